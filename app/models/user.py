"""Accounts of officials, region staff and BUMDes managers; residents need none."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.region import Region
from app.models.village import Village


class Role(enum.StrEnum):
    SUPERADMIN = "superadmin"
    REGION_ADMIN = "region_admin"
    OPERATOR = "operator"
    HEAD = "head"
    BUMDES_MANAGER = "bumdes_manager"


VILLAGE_ROLES = (Role.OPERATOR, Role.HEAD)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    bumdes_id: Mapped[int | None] = mapped_column(index=True)
    # Part of the session id: changing it logs every session of this account out.
    session_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    village: Mapped[Village | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")

    def set_password(self, password: str) -> None:
        """Hash and store a new password and end every other session."""
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def end_sessions(self) -> None:
        """Log this account out everywhere: every session and remember cookie names the old token."""
        self.session_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_village_official(self) -> bool:
        return self.role in VILLAGE_ROLES

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
