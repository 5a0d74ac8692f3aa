import dataclasses
import itertools
from collections import deque

import pytest

from app.domain.errors import DomainError
from app.domain.states import (
    ACTIONS,
    COMPLAINT_STATUS_LABELS,
    FINAL_STATUSES,
    OPEN_STATUSES,
    STATUS_LABELS,
    STATUSES,
    Action,
    TransitionError,
    actions_for,
    status_label,
    transition,
)

# The rules, written out independently of the module: (status, action) -> new status.
ALLOWED = {
    ("diajukan", "verify"): "diverifikasi",
    ("diajukan", "request_fix"): "perlu_perbaikan",
    ("diverifikasi", "request_fix"): "perlu_perbaikan",
    ("perlu_perbaikan", "resubmit"): "diajukan",
    ("diajukan", "reject"): "ditolak",
    ("diverifikasi", "reject"): "ditolak",
    ("diproses", "reject"): "ditolak",
    ("diverifikasi", "start"): "diproses",
    ("diproses", "mark_ready"): "siap_diambil",
    ("siap_diambil", "hand_over"): "selesai",
}
ACTOR = {
    "verify": "official",
    "request_fix": "official",
    "resubmit": "resident",
    "reject": "official",
    "start": "official",
    "mark_ready": "official",
    "hand_over": "official",
}
NOTE_REQUIRED = {"request_fix", "reject"}
ALL_STATUSES = [
    "diajukan",
    "diverifikasi",
    "diproses",
    "siap_diambil",
    "selesai",
    "perlu_perbaikan",
    "ditolak",
]
PAIRS = list(itertools.product(ALL_STATUSES, sorted(ACTOR)))


def test_statuses_are_the_seven_stored_values_with_their_labels() -> None:
    assert STATUS_LABELS == {
        "diajukan": "Diajukan",
        "diverifikasi": "Diverifikasi",
        "diproses": "Diproses",
        "siap_diambil": "Siap diambil",
        "selesai": "Selesai",
        "perlu_perbaikan": "Perlu perbaikan",
        "ditolak": "Ditolak",
    }
    assert list(STATUSES) == ALL_STATUSES


def test_finished_and_rejected_are_final_and_everything_else_is_open() -> None:
    assert {"selesai", "ditolak"} == FINAL_STATUSES
    assert set(ALL_STATUSES) - {"selesai", "ditolak"} == OPEN_STATUSES


def test_status_label_falls_back_to_the_raw_value() -> None:
    assert status_label("siap_diambil") == "Siap diambil"
    assert status_label("hilang") == "hilang"


def test_the_actions_are_exactly_the_documented_ones() -> None:
    assert set(ACTIONS) == set(ACTOR) | {"resolve"}  # resolve: complaints only (below)
    for name, action in ACTIONS.items():
        if name == "resolve":
            continue
        assert action.name == name
        assert action.by == ACTOR[name]
        assert action.note_required == (name in NOTE_REQUIRED)
        assert action.from_states == {status for status, act in ALLOWED if act == name}
        assert {ALLOWED[(status, name)] for status in action.from_states} == {action.to_state}


def test_request_fix_is_labelled_minta_perbaikan() -> None:
    assert ACTIONS["request_fix"].label == "Minta perbaikan"


def test_every_action_has_a_label() -> None:
    assert all(action.label for action in ACTIONS.values())


def test_actions_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ACTIONS["verify"].to_state = "selesai"  # type: ignore[misc]


def test_a_transition_error_is_a_domain_error() -> None:
    assert issubclass(TransitionError, DomainError)


@pytest.mark.parametrize(("status", "action"), [pair for pair in PAIRS if pair in ALLOWED])
def test_every_allowed_transition_gives_the_documented_status(status: str, action: str) -> None:
    assert transition(status, action, "Catatan petugas", ACTOR[action]) == ALLOWED[(status, action)]


@pytest.mark.parametrize(("status", "action"), [pair for pair in PAIRS if pair not in ALLOWED])
def test_every_other_transition_is_refused(status: str, action: str) -> None:
    with pytest.raises(TransitionError) as caught:
        transition(status, action, "Catatan petugas", ACTOR[action])
    assert str(caught.value)


@pytest.mark.parametrize(("status", "action"), [pair for pair in PAIRS if pair not in ALLOWED])
def test_a_refusal_names_the_action_or_says_the_request_is_closed(status: str, action: str) -> None:
    with pytest.raises(TransitionError) as caught:
        transition(status, action, "Catatan petugas", ACTOR[action])
    assert caught.value.params["status"] == STATUS_LABELS[status]
    if status in FINAL_STATUSES:
        assert "tidak bisa diubah lagi" in caught.value.message
    else:
        assert caught.value.params["action"] == ACTIONS[action].label


@pytest.mark.parametrize(("status", "action"), PAIRS)
def test_every_action_is_refused_to_the_wrong_kind_of_actor(status: str, action: str) -> None:
    other = "resident" if ACTOR[action] == "official" else "official"
    with pytest.raises(TransitionError) as caught:
        transition(status, action, "Catatan", other)
    expected = "petugas desa" if ACTOR[action] == "official" else "pemohon"
    assert expected in caught.value.message


@pytest.mark.parametrize(("status", "action"), [pair for pair in ALLOWED if pair[1] in NOTE_REQUIRED])
@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_request_fix_and_reject_need_a_note(status: str, action: str, note: str | None) -> None:
    with pytest.raises(TransitionError) as caught:
        transition(status, action, note, "official")
    assert "catatan" in caught.value.message


@pytest.mark.parametrize(("status", "action"), [pair for pair in ALLOWED if pair[1] not in NOTE_REQUIRED])
def test_other_actions_do_not_need_a_note(status: str, action: str) -> None:
    assert transition(status, action, None, ACTOR[action]) == ALLOWED[(status, action)]


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(TransitionError) as caught:
        transition("diajukan", "approve_everything", None, "official")
    assert caught.value.params == {"action": "approve_everything"}


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(TransitionError) as caught:
        transition("hilang", "verify", None, "official")
    assert caught.value.params == {"status": "hilang"}


def test_an_unknown_kind_of_actor_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="actor"):
        transition("diajukan", "verify", None, "admin")
    with pytest.raises(ValueError, match="actor"):
        actions_for("diajukan", by="admin")


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("by", ["official", "resident"])
def test_actions_for_lists_exactly_the_allowed_actions_of_that_actor(status: str, by: str) -> None:
    names = {action.name for action in actions_for(status, by=by)}
    assert names == {action for (st, action) in ALLOWED if st == status and ACTOR[action] == by}
    assert all(isinstance(action, Action) for action in actions_for(status, by=by))


def test_actions_for_defaults_to_officials_and_shows_the_forward_step_first() -> None:
    assert [action.name for action in actions_for("diajukan")] == ["verify", "request_fix", "reject"]


def test_a_resident_can_only_resubmit_a_request_that_needs_fixing() -> None:
    assert [action.name for action in actions_for("perlu_perbaikan", by="resident")] == ["resubmit"]
    assert actions_for("perlu_perbaikan", by="official") == []


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_final_statuses_offer_no_actions(status: str) -> None:
    assert actions_for(status, by="official") == []
    assert actions_for(status, by="resident") == []


def test_an_unknown_status_offers_no_actions() -> None:
    assert actions_for("hilang") == []


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_every_open_request_can_still_reach_a_final_status(status: str) -> None:
    seen, queue = {status}, deque([status])
    while queue:
        current = queue.popleft()
        for action in actions_for(current, "official") + actions_for(current, "resident"):
            if action.to_state not in seen:
                seen.add(action.to_state)
                queue.append(action.to_state)
    assert seen & FINAL_STATUSES


def test_every_status_is_reachable_from_a_new_request() -> None:
    seen, queue = {"diajukan"}, deque(["diajukan"])
    while queue:
        current = queue.popleft()
        for action in actions_for(current, "official") + actions_for(current, "resident"):
            if action.to_state not in seen:
                seen.add(action.to_state)
                queue.append(action.to_state)
    assert seen == set(ALL_STATUSES)


# --- complaints: their own last step and their own words (issue 14, item 8) ---------------------

COMPLAINT_ALLOWED = {
    **{pair: to for pair, to in ALLOWED.items() if pair[1] not in ("mark_ready", "hand_over")},
    ("diproses", "resolve"): "selesai",
    ("siap_diambil", "resolve"): "selesai",  # complaints left there before they had their own steps
}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(ALL_STATUSES, [*sorted(ACTOR), "resolve"]))
)
def test_a_complaint_is_followed_up_and_resolved_never_made_ready_to_collect(status, action) -> None:
    by = "resident" if action == "resubmit" else "official"
    if (status, action) in COMPLAINT_ALLOWED:
        assert (
            transition(status, action, "Catatan", by, kind="complaint") == COMPLAINT_ALLOWED[(status, action)]
        )
    else:
        with pytest.raises(TransitionError):
            transition(status, action, "Catatan", by, kind="complaint")


def test_resolving_is_for_complaints_only_and_needs_a_note_for_the_resident() -> None:
    with pytest.raises(TransitionError):
        transition("diproses", "resolve", "Selesai", "official")
    with pytest.raises(TransitionError):
        transition("diproses", "resolve", " ", "official", kind="complaint")
    assert [a.name for a in actions_for("diproses", kind="complaint")] == ["resolve", "reject"]
    assert [a.name for a in actions_for("diproses")] == ["mark_ready", "reject"]


def test_a_complaint_speaks_of_its_own_steps() -> None:
    assert status_label("diajukan", "complaint") == "Diterima"
    assert status_label("diproses", "complaint") == "Ditindaklanjuti"
    assert status_label("selesai", "complaint") == "Selesai ditangani"
    assert "Siap diambil" not in COMPLAINT_STATUS_LABELS.values()
