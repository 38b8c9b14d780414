"""State sets as SQL lists: made from the enums, in their order, quoted."""
from __future__ import annotations

import pytest

from pcs.domain import states
from pcs.domain.states import TaskState, TransitionStatus, sql_list


def test_sql_list_quotes_each_state_in_order():
    assert sql_list(states.ACTIVE) == "('ready','dispatched','running','deferred')"
    assert sql_list([TransitionStatus.IN_PROGRESS]) == "('in-progress')"


def test_sql_list_separator_keeps_a_migration_text():
    assert sql_list(states.FINAL, separator=", ") == "('succeeded', 'failed', 'unsupported')"


@pytest.mark.parametrize("name, members", [
    ("ACTIVE_SQL", states.ACTIVE), ("UNFINISHED_SQL", states.UNFINISHED),
    ("FINAL_SQL", states.FINAL), ("IN_FLIGHT_SQL", states.IN_FLIGHT),
    ("ABORTABLE_SQL", states.ABORTABLE),
    ("TRANSITION_UNFINISHED_SQL", states.TRANSITION_UNFINISHED),
    ("TRANSITION_ENDED_SQL", states.TRANSITION_ENDED),
    ("CAP_ACTIVE_SQL", states.CAP_ACTIVE), ("CAP_UNFINISHED_SQL", states.CAP_UNFINISHED)])
def test_each_sql_constant_lists_its_tuple(name, members):
    assert getattr(states, name) == "(" + ",".join(f"'{m.value}'" for m in members) + ")"


def test_task_states_split_into_unfinished_and_final():
    assert set(states.UNFINISHED) | set(states.FINAL) == set(TaskState)
    assert not set(states.UNFINISHED) & set(states.FINAL)
    assert set(states.ABORTABLE) == set(states.UNFINISHED) - {TaskState.RUNNING}
