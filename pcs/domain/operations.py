"""Operations, actions and the plan an operation makes from a component's current power state."""
from __future__ import annotations

from enum import Enum
from functools import lru_cache


class Operation(str, Enum):
    ON = "On"
    OFF = "Off"
    SOFT_OFF = "Soft-Off"
    SOFT_RESTART = "Soft-Restart"
    HARD_RESTART = "Hard-Restart"
    INIT = "Init"
    FORCE_OFF = "Force-Off"

    @classmethod
    def parse(cls, text: str) -> "Operation":
        """Case-insensitive; raises ValueError for anything else."""
        for op in cls:
            if op.value.lower() == str(text).strip().lower():
                return op
        raise ValueError(text)


class Action(str, Enum):
    """A single Redfish power action, spelled as the outcome strings of API.md spell it."""
    ON = "on"
    OFF = "off"
    FORCE_OFF = "forceoff"
    GRACEFUL_SHUTDOWN = "gracefulshutdown"
    GRACEFUL_RESTART = "gracefulrestart"


OFF_ACTIONS = (Action.OFF, Action.FORCE_OFF, Action.GRACEFUL_SHUTDOWN)

# Power state each action must reach to be confirmed.
TARGET_STATE = {
    Action.ON: "on", Action.OFF: "off", Action.FORCE_OFF: "off",
    Action.GRACEFUL_SHUTDOWN: "off", Action.GRACEFUL_RESTART: "on",
}

# ResetType values for an action, in preference order (API.md "ResetType sent").
RESET_TYPES_FOR = {
    Action.ON: ("On", "ForceOn"),
    Action.GRACEFUL_SHUTDOWN: ("GracefulShutdown", "Off"),
    Action.OFF: ("Off", "GracefulShutdown"),
    Action.FORCE_OFF: ("ForceOff",),
    Action.GRACEFUL_RESTART: ("GracefulRestart", "ForceRestart"),
}


def reset_type_for(action: Action, allowable: list[str]) -> str | None:
    """The BMC's own spelling of the ResetType for this action, or None if it offers none."""
    offered = {value.lower(): value for value in allowable or []}
    for wanted in RESET_TYPES_FOR[action]:
        if wanted.lower() in offered:
            return offered[wanted.lower()]
    return None


def offers(allowable: list[str], *names: str) -> bool:
    lowered = {value.lower() for value in allowable or []}
    return any(name.lower() in lowered for name in names)


def supported_operations(allowable: list[str]) -> list[Operation]:
    """Supported transitions derived from ResetType@Redfish.AllowableValues (API.md)."""
    return list(_supported(tuple(allowable or ())))


@lru_cache(maxsize=256)
def _supported(allowable: tuple[str, ...]) -> tuple[Operation, ...]:
    # Thousands of components share a handful of AllowableValues lists.
    ops: list[Operation] = []
    can_on = offers(allowable, "On", "ForceOn")
    can_off = offers(allowable, "Off", "GracefulShutdown", "ForceOff")
    if offers(allowable, "ForceOff"):
        ops.append(Operation.FORCE_OFF)
    if offers(allowable, "GracefulRestart", "ForceRestart"):
        ops.append(Operation.SOFT_RESTART)
    if offers(allowable, "Off", "GracefulShutdown"):
        ops += [Operation.SOFT_OFF, Operation.OFF]
    if can_on:
        ops.append(Operation.ON)
    if can_on and can_off:
        ops += [Operation.INIT, Operation.HARD_RESTART]
        if Operation.SOFT_RESTART not in ops:
            ops.append(Operation.SOFT_RESTART)
    return tuple(ops)


class PlanOutcome(str, Enum):
    RUN = "run"
    ALREADY = "already"            # nothing to do: already in the desired state
    WRONG_STATE = "wrong-state"    # restart of a component that is not on


def plan_actions(operation: Operation, power_state: str, allowable: list[str]
                 ) -> tuple[PlanOutcome, list[Action]]:
    """The actions an operation needs from the current power state (API.md operation table).

    A state the BMC reports as neither on nor off ('undefined') is never taken as "already there":
    the action is sent and its result confirmed.
    """
    is_on, is_off = power_state == "on", power_state == "off"
    if operation is Operation.ON:
        return (PlanOutcome.ALREADY, []) if is_on else (PlanOutcome.RUN, [Action.ON])
    if operation is Operation.FORCE_OFF:
        return (PlanOutcome.ALREADY, []) if is_off else (PlanOutcome.RUN, [Action.FORCE_OFF])
    if operation in (Operation.OFF, Operation.SOFT_OFF):
        if is_off:
            return PlanOutcome.ALREADY, []
        return PlanOutcome.RUN, [_shutdown_action(allowable)]
    if operation is Operation.HARD_RESTART:
        if not is_on:
            return PlanOutcome.WRONG_STATE, []
        return PlanOutcome.RUN, [_shutdown_action(allowable), Action.ON]
    if operation is Operation.SOFT_RESTART:
        if not is_on:
            return PlanOutcome.WRONG_STATE, []
        if offers(allowable, "GracefulRestart", "ForceRestart"):
            return PlanOutcome.RUN, [Action.GRACEFUL_RESTART]
        return PlanOutcome.RUN, [_shutdown_action(allowable), Action.ON]
    if operation is Operation.INIT:
        if not is_on:
            return PlanOutcome.RUN, [Action.ON]
        return PlanOutcome.RUN, [_shutdown_action(allowable), Action.ON]
    raise ValueError(operation)


def _shutdown_action(allowable: list[str]) -> Action:
    # A BMC that offers no graceful shutdown at all is shut down with ForceOff straight away.
    if offers(allowable, "GracefulShutdown", "Off"):
        return Action.GRACEFUL_SHUTDOWN
    return Action.FORCE_OFF


def escalates_to_force_off(operation: Operation, action: Action, allowable: list[str]) -> bool:
    """Off, Hard-Restart and Init escalate a graceful shutdown to ForceOff at the deadline."""
    return (action is Action.GRACEFUL_SHUTDOWN
            and operation in (Operation.OFF, Operation.HARD_RESTART, Operation.INIT)
            and offers(allowable, "ForceOff"))
