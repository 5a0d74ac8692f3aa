"""The life of a service request: statuses, the actions that move it, and who may take them."""

from dataclasses import dataclass

from app.domain.errors import N_, DomainError

DIAJUKAN = "diajukan"
DIVERIFIKASI = "diverifikasi"
DIPROSES = "diproses"
SIAP_DIAMBIL = "siap_diambil"
SELESAI = "selesai"
PERLU_PERBAIKAN = "perlu_perbaikan"
DITOLAK = "ditolak"

STATUS_LABELS: dict[str, str] = {
    DIAJUKAN: N_("Diajukan"),
    DIVERIFIKASI: N_("Diverifikasi"),
    DIPROSES: N_("Diproses"),
    SIAP_DIAMBIL: N_("Siap diambil"),
    SELESAI: N_("Selesai"),
    PERLU_PERBAIKAN: N_("Perlu perbaikan"),
    DITOLAK: N_("Ditolak"),
}
STATUSES: tuple[str, ...] = tuple(STATUS_LABELS)

# What a request is for: a letter to collect, or a complaint to follow up. Both share the statuses
# (one queue, one audit trail), but a complaint is never "ready to collect", and people read its
# statuses and actions in its own words.
LETTER, COMPLAINT = "letter", "complaint"
KINDS: frozenset[str] = frozenset({LETTER, COMPLAINT})
COMPLAINT_STATUS_LABELS: dict[str, str] = {
    DIAJUKAN: N_("Diterima"),
    DIVERIFIKASI: N_("Diperiksa"),
    DIPROSES: N_("Ditindaklanjuti"),
    SIAP_DIAMBIL: N_("Ditindaklanjuti"),  # only complaints made before they had their own steps
    SELESAI: N_("Selesai ditangani"),
    PERLU_PERBAIKAN: N_("Perlu keterangan"),
    DITOLAK: N_("Tidak ditindaklanjuti"),
}
# The steps a request of each kind normally goes through, in order.
MAIN_PATHS: dict[str, tuple[str, ...]] = {
    LETTER: (DIAJUKAN, DIVERIFIKASI, DIPROSES, SIAP_DIAMBIL, SELESAI),
    COMPLAINT: (DIAJUKAN, DIVERIFIKASI, DIPROSES, SELESAI),
}
FINAL_STATUSES: frozenset[str] = frozenset({SELESAI, DITOLAK})
OPEN_STATUSES: frozenset[str] = frozenset(STATUSES) - FINAL_STATUSES

OFFICIAL = "official"
RESIDENT = "resident"
ACTORS: frozenset[str] = frozenset({OFFICIAL, RESIDENT})


class TransitionError(DomainError):
    """An action cannot be taken on a request in its current status."""


@dataclass(frozen=True)
class Action:
    """A step that moves a request from one of ``from_states`` to ``to_state``, taken by ``by``."""

    name: str
    label: str
    from_states: frozenset[str]
    to_state: str
    note_required: bool = False
    by: str = OFFICIAL
    kinds: frozenset[str] = frozenset({LETTER, COMPLAINT})


_ACTION_LIST = (
    Action("verify", N_("Verifikasi"), frozenset({DIAJUKAN}), DIVERIFIKASI),
    Action("start", N_("Proses"), frozenset({DIVERIFIKASI}), DIPROSES),
    Action(
        "mark_ready",
        N_("Tandai siap diambil"),
        frozenset({DIPROSES}),
        SIAP_DIAMBIL,
        kinds=frozenset({LETTER}),
    ),
    Action("hand_over", N_("Serahkan"), frozenset({SIAP_DIAMBIL}), SELESAI, kinds=frozenset({LETTER})),
    Action(
        "resolve",
        N_("Selesai ditangani"),
        frozenset({DIPROSES, SIAP_DIAMBIL}),
        SELESAI,
        note_required=True,
        kinds=frozenset({COMPLAINT}),
    ),
    Action(
        "request_fix",
        N_("Minta perbaikan"),
        frozenset({DIAJUKAN, DIVERIFIKASI}),
        PERLU_PERBAIKAN,
        note_required=True,
    ),
    Action(
        "reject",
        N_("Tolak"),
        frozenset({DIAJUKAN, DIVERIFIKASI, DIPROSES}),
        DITOLAK,
        note_required=True,
    ),
    Action("resubmit", N_("Ajukan ulang"), frozenset({PERLU_PERBAIKAN}), DIAJUKAN, by=RESIDENT),
)
# Insertion order is the order buttons are shown in: the forward step first, refusals after.
ACTIONS: dict[str, Action] = {action.name: action for action in _ACTION_LIST}
# A complaint's actions in its own words (the letter words are each Action's label).
COMPLAINT_ACTION_LABELS: dict[str, str] = {
    "verify": N_("Periksa"),
    "start": N_("Tindak lanjuti"),
    "resolve": N_("Selesai ditangani"),
    "request_fix": N_("Minta keterangan"),
    "reject": N_("Tolak"),
    "resubmit": N_("Kirim keterangan"),
}


def status_labels(kind: str = LETTER) -> dict[str, str]:
    """Every status's label (msgids) for requests of ``kind``."""
    return COMPLAINT_STATUS_LABELS if kind == COMPLAINT else STATUS_LABELS


def status_label(status: str, kind: str = LETTER) -> str:
    """The Indonesian label (a msgid) of a status, or the raw value if it is unknown."""
    return status_labels(kind).get(status, status)


def _check_actor(by: str) -> None:
    if by not in ACTORS:
        raise ValueError(f"unknown actor kind {by!r}; expected one of {sorted(ACTORS)}")


def actions_for(status: str, by: str = OFFICIAL, kind: str = LETTER) -> list[Action]:
    """The actions ``by`` may take on a request of ``kind`` in ``status``, in display order."""
    _check_actor(by)
    return [
        action
        for action in _ACTION_LIST
        if action.by == by and status in action.from_states and kind in action.kinds
    ]


def transition(current_status: str, action_name: str, note: str | None, by: str, kind: str = LETTER) -> str:
    """Apply an action and return the new status, or raise TransitionError saying why it is refused."""
    _check_actor(by)
    action = ACTIONS.get(action_name)
    if action is None or kind not in action.kinds:
        raise TransitionError(N_("Tindakan %(action)s tidak dikenal."), action=action_name)
    if current_status not in STATUS_LABELS:
        raise TransitionError(N_("Status permohonan %(status)s tidak dikenal."), status=current_status)
    if action.by != by:
        if action.by == OFFICIAL:
            raise TransitionError(
                N_('Tindakan "%(action)s" hanya bisa dilakukan oleh petugas desa.'), action=action.label
            )
        raise TransitionError(
            N_('Tindakan "%(action)s" hanya bisa dilakukan oleh pemohon.'), action=action.label
        )
    if current_status in FINAL_STATUSES:
        raise TransitionError(
            N_('Permohonan ini sudah berstatus "%(status)s" dan tidak bisa diubah lagi.'),
            status=STATUS_LABELS[current_status],
        )
    if current_status not in action.from_states:
        raise TransitionError(
            N_('Tindakan "%(action)s" tidak bisa dilakukan pada permohonan berstatus "%(status)s".'),
            action=action.label,
            status=STATUS_LABELS[current_status],
        )
    if action.note_required and not (note and note.strip()):
        raise TransitionError(
            N_('Tindakan "%(action)s" wajib disertai catatan untuk pemohon.'), action=action.label
        )
    return action.to_state
