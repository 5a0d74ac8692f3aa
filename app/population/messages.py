"""Messages between region staff and a village (OpenDK "Pesan"): threads OpenSID polls and answers.

A village's OpenSID sends with ``pesan`` and fetches with ``pesan/getpesan`` (every visit of its
dashboard); region staff read and answer in Balai. No HTTP here; callers commit.
"""

from __future__ import annotations

from markupsafe import escape
from sqlalchemy import select

from app.access import village_filter
from app.domain.errors import N_, DomainError
from app.extensions import db
from app.models import Region, Role, User, Village, utcnow
from app.models.population import FROM_REGION, FROM_VILLAGE, INCOMING, OUTGOING, Message, MessageThread
from app.models.region import DISTRICT, PROVINCE, REGENCY

MAX_TEXT = 5000
# Kabupaten/kota names already say which they are ("Kabupaten Pesawaran", "Kota Metro").
LEVEL_WORDS = {PROVINCE: "Provinsi", REGENCY: "", DISTRICT: "Kecamatan"}


def _clean(text: str | None, size: int) -> str:
    return (text or "").replace("\r\n", "\n").strip()[:size]


def from_village(
    village: Village, *, text: str, sender_name: str, title: str = "", thread_id: int | None = None
) -> Message:
    """A message sent by the village's OpenSID: a new thread, or a reply in one of its threads."""
    body = _clean(text, MAX_TEXT)
    if not body:
        raise DomainError(N_("Pesan kosong."))
    if thread_id is not None:
        thread = db.session.get(MessageThread, thread_id)
        if thread is None or thread.village_id != village.id:
            raise DomainError(N_("Percakapan itu tidak ada untuk desa ini."))
    else:
        thread = MessageThread(
            village_id=village.id, title=_clean(title, 200) or "(tanpa judul)", kind=INCOMING
        )
        db.session.add(thread)
        db.session.flush()
    thread.unread = True
    thread.updated_at = utcnow()
    message = Message(
        thread_id=thread.id,
        text=body,
        sender=FROM_VILLAGE,
        sender_name=_clean(sender_name, 160) or village.name,
    )
    db.session.add(message)
    db.session.flush()
    return message


def sender_name(user: User) -> str:
    """How a region staff member signs in the village's OpenSID: "Kecamatan Teluk Pandan"."""
    region = db.session.get(Region, user.region_code) if user.region_code else None
    if region is None:
        return "Balai"
    return f"{LEVEL_WORDS.get(region.level, '')} {region.name}".strip()


def from_region(thread: MessageThread, user: User, text: str) -> Message:
    body = _clean(text, MAX_TEXT)
    if not body:
        raise DomainError(N_("Tulis pesannya dulu."))
    thread.updated_at = utcnow()
    thread.unread = False
    message = Message(
        thread_id=thread.id, text=body, sender=FROM_REGION, sender_name=sender_name(user), user_id=user.id
    )
    db.session.add(message)
    db.session.flush()
    return message


def start_thread(village: Village, user: User, title: str, text: str) -> MessageThread:
    title = _clean(title, 200)
    if not title:
        raise DomainError(N_("Tulis judul pesan."))
    thread = MessageThread(village_id=village.id, title=title, kind=OUTGOING, unread=False)
    db.session.add(thread)
    db.session.flush()
    from_region(thread, user, text)
    return thread


def since(village: Village, after_id: int) -> list[dict]:
    """OpenDK's getpesan answer: the village's threads with their messages newer than ``after_id``.

    Texts are sent HTML-escaped: OpenSID shows them as HTML.
    """
    rows = db.session.execute(
        select(MessageThread, Message)
        .join(Message, Message.thread_id == MessageThread.id)
        .where(MessageThread.village_id == village.id, Message.id > after_id)
        .order_by(MessageThread.id, Message.id)
    ).all()
    threads: dict[int, dict] = {}
    for thread, message in rows:
        entry = threads.setdefault(
            thread.id,
            {
                "id": thread.id,
                "judul": str(escape(thread.title)),
                "jenis": thread.kind,
                "diarsipkan": 1 if thread.archived else 0,
                "detail_pesan": [],
            },
        )
        entry["detail_pesan"].append(
            {
                "id": message.id,
                "pesan_id": thread.id,
                "text": str(escape(message.text)),
                "pengirim": message.sender,
                "nama_pengirim": str(escape(message.sender_name)),
            }
        )
    return list(threads.values())


def threads_for(user: User, village_id: int | None = None, limit: int = 100) -> list[MessageThread]:
    """Threads of the villages ``user`` may read, newest activity first."""
    stmt = (
        select(MessageThread)
        .join(Village, Village.id == MessageThread.village_id)
        .where(village_filter(user))
        .order_by(MessageThread.updated_at.desc(), MessageThread.id.desc())
        .limit(limit)
    )
    if village_id is not None:
        stmt = stmt.where(MessageThread.village_id == village_id)
    return list(db.session.scalars(stmt))


def may_answer(user: User) -> bool:
    return user.role in (Role.REGION_ADMIN, Role.SUPERADMIN)
