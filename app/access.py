"""Who may see and change what: written once, used by every route as query filters and checks."""

from __future__ import annotations

from sqlalchemy import Select, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from app.models import Role, ServiceRequest, User, Village
from app.models.services import TO_VILLAGE


def region_prefix_filter(column, region_code: str) -> ColumnElement[bool]:
    """Rows whose region code is ``region_code`` or lies beneath it."""
    return or_(column == region_code, column.like(region_code + ".%"))


def village_filter(user: User | None) -> ColumnElement[bool]:
    """A filter on ``Village`` rows to those ``user`` may read."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if user.role == Role.SUPERADMIN:
        return true()
    if user.role == Role.REGION_ADMIN and user.region_code:
        return region_prefix_filter(Village.region_code, user.region_code)
    if user.role in (Role.OPERATOR, Role.HEAD) and user.village_id:
        return Village.id == user.village_id
    return false()


def scoped_villages(query: Select, user: User | None) -> Select:
    """Limit a select that involves ``Village`` to the villages ``user`` may read."""
    return query.where(village_filter(user))


def can_read_village(user: User | None, village: Village) -> bool:
    """Officials of the village, region staff above it and superadmins may read its work."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == Role.SUPERADMIN:
        return True
    if user.role == Role.REGION_ADMIN and user.region_code:
        return village.region_code == user.region_code or village.region_code.startswith(
            user.region_code + "."
        )
    return user.role in (Role.OPERATOR, Role.HEAD) and user.village_id == village.id


def village_desk() -> ColumnElement[bool]:
    """Requests the village office handles: every query of a village's own work adds this.

    A complaint about the office itself (routed to the region) is not the office's to see: not
    in its queue, counts, reports, TV screen, exports or messages.
    """
    return ServiceRequest.routed_to == TO_VILLAGE


def can_read_request(user: User | None, req: ServiceRequest) -> bool:
    """Who may open one request: its village's readers, except a complaint about that village office,
    which only the admins of the region above it (and superadmins) may open."""
    if req.to_region:
        return can_work_request(user, req)
    return can_read_village(user, req.village)


def can_work_request(user: User | None, req: ServiceRequest) -> bool:
    """Who may act on one request: the village's officials; for a complaint about their own office,
    the region's admins instead."""
    if req.to_region:
        return (
            user is not None
            and getattr(user, "is_authenticated", False)
            and user.role in (Role.REGION_ADMIN, Role.SUPERADMIN)
            and can_manage_region(user, req.village.region_code)
        )
    return can_work_village(user, req.village)


def can_work_village(user: User | None, village: Village) -> bool:
    """Only the village's own operators and head change its workflow."""
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.role in (Role.OPERATOR, Role.HEAD)
        and user.village_id == village.id
    )


def can_relax_head_approval(user: User | None, village: Village) -> bool:
    """Turning off the head's approval of letters frees operators from a check, so operators may not.

    Only the village's own head, or an admin whose region holds the village, may turn it off.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == Role.HEAD:
        return user.village_id == village.id
    return user.role in (Role.SUPERADMIN, Role.REGION_ADMIN) and can_manage_region(user, village.region_code)


def can_require_head_approval(user: User | None, village: Village) -> bool:
    """Anyone who may relax the head's approval, and the village's operators, may turn it on."""
    return can_work_village(user, village) or can_relax_head_approval(user, village)


def can_manage_region(user: User | None, region_code: str) -> bool:
    """Admins act (create users, activate villages) only inside their own region."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == Role.SUPERADMIN:
        return True
    if user.role == Role.REGION_ADMIN and user.region_code:
        return region_code == user.region_code or region_code.startswith(user.region_code + ".")
    return False


def grantable_roles(user: User) -> tuple[Role, ...]:
    """Roles an admin may give to accounts they create."""
    if user.role == Role.SUPERADMIN:
        return tuple(Role)
    if user.role == Role.REGION_ADMIN:
        return (Role.REGION_ADMIN, Role.OPERATOR, Role.HEAD, Role.BUMDES_MANAGER)
    return ()


def can_manage_user(admin: User, target: User) -> bool:
    """An admin manages accounts whose scope lies inside the admin's own."""
    if admin.role == Role.SUPERADMIN:
        return True
    if admin.role != Role.REGION_ADMIN or target.role == Role.SUPERADMIN:
        return False
    code = target.region_code or (target.village.region_code if target.village else None)
    return code is not None and can_manage_region(admin, code)


# --- BUMDes (marketplace) ---------------------------------------------------------------------


def bumdes_filter(user: User | None, column) -> ColumnElement[bool]:
    """Rows whose BUMDes id ``column`` the user manages: their own BUMDes; superadmins every one."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if user.role == Role.SUPERADMIN:
        return true()
    if user.role == Role.BUMDES_MANAGER and user.bumdes_id:
        return column == user.bumdes_id
    return false()


def can_manage_bumdes(user: User | None, bumdes_id: int | None) -> bool:
    """Only the BUMDes's own managers (and superadmins) change its products and see its orders."""
    if user is None or not getattr(user, "is_authenticated", False) or bumdes_id is None:
        return False
    if user.role == Role.SUPERADMIN:
        return True
    return user.role == Role.BUMDES_MANAGER and user.bumdes_id == bumdes_id
