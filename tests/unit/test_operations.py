"""Unit tests for pcs.domain.operations against API.md ("Operation -> actions",
"Supported transitions")."""
import pytest

from pcs.domain.operations import (
    Action, Operation, PlanOutcome, escalates_to_force_off, plan_actions, reset_type_for,
    supported_operations,
)

ON, OFF, SOFT_OFF = Operation.ON, Operation.OFF, Operation.SOFT_OFF
SOFT_RESTART, HARD_RESTART = Operation.SOFT_RESTART, Operation.HARD_RESTART
INIT, FORCE_OFF = Operation.INIT, Operation.FORCE_OFF
ALL_OPS = set(Operation)

FULL = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi",
        "PushPowerButton"]
NO_RESTART = ["On", "ForceOff", "GracefulShutdown"]  # no GracefulRestart/ForceRestart


# --- Operation.parse -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("on", ON), ("ON", ON), ("On", ON),
    ("off", OFF), ("OFF", OFF),
    ("soft-off", SOFT_OFF), ("Soft-Off", SOFT_OFF), ("SOFT-OFF", SOFT_OFF),
    ("soft-restart", SOFT_RESTART), ("sOfT-rEsTaRt", SOFT_RESTART),
    ("hard-restart", HARD_RESTART), ("Hard-Restart", HARD_RESTART),
    ("init", INIT), ("INIT", INIT),
    ("force-off", FORCE_OFF), ("Force-Off", FORCE_OFF), ("FORCE-OFF", FORCE_OFF),
])
def test_operation_parse_is_case_insensitive(text, expected):
    assert Operation.parse(text) is expected


@pytest.mark.parametrize("op, canonical", [
    (ON, "On"), (OFF, "Off"), (SOFT_OFF, "Soft-Off"), (SOFT_RESTART, "Soft-Restart"),
    (HARD_RESTART, "Hard-Restart"), (INIT, "Init"), (FORCE_OFF, "Force-Off"),
])
def test_operation_value_is_the_canonical_response_spelling(op, canonical):
    assert op.value == canonical


@pytest.mark.parametrize("junk", [
    "", "forceoff", "force_off", "softoff", "soft off", "restart", "reboot", "power-on",
    "on-off", "Nmi", "GracefulShutdown", "null", "o n",
])
def test_operation_parse_rejects_junk(junk):
    with pytest.raises(ValueError):
        Operation.parse(junk)


# --- supported_operations (API.md "Supported transitions" rule) -------------------------------
# ForceOff -> Force-Off; GracefulRestart or ForceRestart -> Soft-Restart; Off or GracefulShutdown
# -> Soft-Off, Off; On -> On; with both on and off available also Init, Hard-Restart and
# (if missing) Soft-Restart.

@pytest.mark.parametrize("allowable, expected", [
    pytest.param(FULL, ALL_OPS, id="full-set"),
    pytest.param(["On", "Off"], ALL_OPS - {FORCE_OFF}, id="on-off"),
    pytest.param(["On", "ForceOff"], {ON, FORCE_OFF, INIT, HARD_RESTART, SOFT_RESTART},
                 id="on-forceoff"),
    pytest.param(["ForceOff"], {FORCE_OFF}, id="forceoff-only"),
    pytest.param(["GracefulRestart"], {SOFT_RESTART}, id="gracefulrestart-only"),
    pytest.param(["ForceRestart"], {SOFT_RESTART}, id="forcerestart-only"),
    pytest.param(["On"], {ON}, id="on-only"),
    pytest.param(["Off"], {SOFT_OFF, OFF}, id="off-only"),
    pytest.param(["GracefulShutdown"], {SOFT_OFF, OFF}, id="gracefulshutdown-only"),
    pytest.param(["GracefulShutdown", "ForceOff"], {SOFT_OFF, OFF, FORCE_OFF},
                 id="offs-without-on"),
    pytest.param(["On", "GracefulRestart"], {ON, SOFT_RESTART}, id="on-restart-without-off"),
    pytest.param(NO_RESTART, ALL_OPS, id="soft-restart-added-when-missing"),
    pytest.param(["Nmi", "PushPowerButton"], set(), id="irrelevant-values"),
    pytest.param([], set(), id="empty"),
    pytest.param(None, set(), id="none"),
])
def test_supported_operations_follow_the_api_md_rule(allowable, expected):
    ops = supported_operations(allowable)
    assert set(ops) == expected
    assert len(ops) == len(set(ops)), "no operation is listed twice"


def test_supported_operations_match_reset_types_case_insensitively():
    assert set(supported_operations(["on", "forceoff", "gracefulshutdown"])) == ALL_OPS


# --- reset_type_for (API.md "ResetType sent") -------------------------------------------------

@pytest.mark.parametrize("action, allowable, expected", [
    (Action.ON, FULL, "On"),
    (Action.ON, ["on", "forceoff"], "on"),                       # the BMC's own spelling
    (Action.FORCE_OFF, FULL, "ForceOff"),
    (Action.FORCE_OFF, ["FORCEOFF"], "FORCEOFF"),
    (Action.GRACEFUL_SHUTDOWN, ["GracefulShutdown", "Off"], "GracefulShutdown"),
    (Action.GRACEFUL_SHUTDOWN, ["Off", "GracefulShutdown"], "GracefulShutdown"),  # preference, not list order
    (Action.GRACEFUL_SHUTDOWN, ["On", "Off", "ForceOff"], "Off"),
    (Action.GRACEFUL_SHUTDOWN, ["gracefulshutdown"], "gracefulshutdown"),
    (Action.GRACEFUL_RESTART, ["GracefulRestart", "ForceRestart"], "GracefulRestart"),
    (Action.GRACEFUL_RESTART, ["ForceRestart", "GracefulRestart"], "GracefulRestart"),
    (Action.GRACEFUL_RESTART, ["On", "ForceRestart"], "ForceRestart"),
    (Action.GRACEFUL_RESTART, ["forcerestart"], "forcerestart"),
])
def test_reset_type_for_picks_the_bmcs_spelling_in_preference_order(action, allowable, expected):
    assert reset_type_for(action, allowable) == expected


@pytest.mark.parametrize("action, allowable", [
    (Action.ON, ["ForceOff", "GracefulShutdown"]),
    (Action.FORCE_OFF, ["On", "GracefulShutdown", "Off"]),
    (Action.GRACEFUL_SHUTDOWN, ["On", "ForceOff"]),
    (Action.GRACEFUL_RESTART, ["On", "ForceOff", "GracefulShutdown"]),
    (Action.ON, []),
    (Action.FORCE_OFF, None),
])
def test_reset_type_for_is_none_when_not_offered(action, allowable):
    assert reset_type_for(action, allowable) is None


# --- plan_actions (API.md "Operation -> actions") ---------------------------------------------

RUN, ALREADY, WRONG = PlanOutcome.RUN, PlanOutcome.ALREADY, PlanOutcome.WRONG_STATE
A_ON, A_FORCE_OFF = Action.ON, Action.FORCE_OFF
A_SHUTDOWN, A_RESTART = Action.GRACEFUL_SHUTDOWN, Action.GRACEFUL_RESTART


@pytest.mark.parametrize("operation, state, expected", [
    (ON, "on", (ALREADY, [])),
    (ON, "off", (RUN, [A_ON])),
    (OFF, "on", (RUN, [A_SHUTDOWN])),
    (OFF, "off", (ALREADY, [])),
    (SOFT_OFF, "on", (RUN, [A_SHUTDOWN])),
    (SOFT_OFF, "off", (ALREADY, [])),
    (FORCE_OFF, "on", (RUN, [A_FORCE_OFF])),
    (FORCE_OFF, "off", (ALREADY, [])),
    (HARD_RESTART, "on", (RUN, [A_SHUTDOWN, A_ON])),
    (HARD_RESTART, "off", (WRONG, [])),
    (SOFT_RESTART, "on", (RUN, [A_RESTART])),
    (SOFT_RESTART, "off", (WRONG, [])),
    (INIT, "on", (RUN, [A_SHUTDOWN, A_ON])),
    (INIT, "off", (RUN, [A_ON])),
])
def test_plan_actions_follow_the_operation_table(operation, state, expected):
    outcome, actions = plan_actions(operation, state, FULL)
    assert (outcome, list(actions)) == expected


@pytest.mark.parametrize("allowable, expected", [
    (["On", "ForceRestart", "GracefulShutdown", "ForceOff"], [A_RESTART]),
    (["On", "GracefulRestart", "Off"], [A_RESTART]),
    (NO_RESTART, [A_SHUTDOWN, A_ON]),
    (["On", "Off"], [A_SHUTDOWN, A_ON]),
])
def test_soft_restart_restarts_when_offered_else_shuts_down_then_on(allowable, expected):
    assert plan_actions(SOFT_RESTART, "on", allowable) == (RUN, expected)


def test_soft_restart_sent_as_forcerestart_when_gracefulrestart_is_not_offered():
    allowable = ["On", "ForceRestart", "ForceOff"]
    outcome, actions = plan_actions(SOFT_RESTART, "on", allowable)
    assert actions == [A_RESTART]
    assert reset_type_for(actions[0], allowable) == "ForceRestart"


@pytest.mark.parametrize("operation", [OFF, SOFT_OFF, HARD_RESTART, INIT])
def test_graceful_shutdown_is_sent_as_off_when_gracefulshutdown_is_not_offered(operation):
    allowable = ["On", "Off", "ForceOff"]
    _, actions = plan_actions(operation, "on", allowable)
    assert actions[0] is A_SHUTDOWN
    assert reset_type_for(actions[0], allowable) == "Off"


# --- escalates_to_force_off -------------------------------------------------------------------

@pytest.mark.parametrize("operation, action, allowable, escalates", [
    (OFF, A_SHUTDOWN, FULL, True),             # "at the deadline, forceoff if offered"
    (OFF, A_SHUTDOWN, ["On", "GracefulShutdown"], False),
    (OFF, A_SHUTDOWN, ["On", "Off"], False),
    (HARD_RESTART, A_SHUTDOWN, FULL, True),    # "gracefulshutdown (-> forceoff at the deadline)"
    (INIT, A_SHUTDOWN, FULL, True),            # "gracefulshutdown (-> forceoff)"
    (SOFT_OFF, A_SHUTDOWN, FULL, False),       # "gracefulshutdown only (times out -> failed)"
    (SOFT_RESTART, A_SHUTDOWN, NO_RESTART, False),
    (SOFT_RESTART, A_RESTART, FULL, False),
    (HARD_RESTART, A_ON, FULL, False),
    (INIT, A_ON, FULL, False),
    (FORCE_OFF, A_FORCE_OFF, FULL, False),
    (ON, A_ON, FULL, False),
])
def test_escalates_to_force_off(operation, action, allowable, escalates):
    assert escalates_to_force_off(operation, action, allowable) is escalates
