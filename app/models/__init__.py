"""Typed SQLAlchemy models, one module per part of the domain."""

from app.models.base import utcnow
from app.models.region import Region
from app.models.services import Attachment, Holiday, PrivateLink, Service, ServiceRequest, StatusChange
from app.models.user import Role, User
from app.models.village import SettingChange, Village

# Every area's tables, so that create_all and Alembic see the whole schema.
from app.models import bumdes, letters, notifications, profile, stats, population  # noqa: F401  isort: skip
from app.models import attendance, deskcounts  # noqa: F401  isort: skip

__all__ = [
    "Attachment",
    "Holiday",
    "PrivateLink",
    "Region",
    "Role",
    "Service",
    "ServiceRequest",
    "SettingChange",
    "StatusChange",
    "User",
    "Village",
    "utcnow",
]
