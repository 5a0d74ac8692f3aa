"""The signed-in account of a request, looked up from its session id ("<user id>:<session token>")."""

from __future__ import annotations

from app.datacache import cached_row, read_generation_now
from app.extensions import db


def load_user(session_id: str):
    """The active account whose current session token the session names, or None.

    The account's row (with its village and region, as a query would join them) is kept per process
    under the data cache's write generation and merged into this request's session without a query:
    the lookup cost as much as an official's page's own work. Logging out, a new password, disabling
    the account or changing its role, village or region all write the row, which makes a new
    generation: the next request, in this process or any other, reads the row afresh and a copied
    cookie naming the old token is turned away. The generation is read now for this (one Redis read
    with several machines), never the one up to DATA_CACHE_REDIS_SECONDS old that public pages use. The kept row is keyed by the account's id and only
    compared to the token each request brings; it is never shown to anyone else.
    """
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit():
        return None
    read_generation_now()
    user = cached_row(("user", int(user_id)), lambda: _load(int(user_id)), "village", "region")
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def _load(user_id: int):
    from app.models import User

    user = db.session.get(User, user_id)
    if user is not None and user.village is not None:
        # Joined with the village: kept detached with it (cached_row detaches the row, its village and region).
        region = user.village.region
        if region is not None and region in db.session:
            db.session.expunge(region)
    return user
