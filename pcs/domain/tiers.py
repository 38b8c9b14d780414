"""Power tiers within one transition (API.md, power sequencing): off-type actions children
first, then restarts, then controller restarts, then on-type actions parents first.

An action may start only when no other unfinished task of its transition still has an action
in an earlier tier. Tiers are numbers; a task stores the tier of its next action.
"""
from __future__ import annotations

from pcs.domain.operations import OFF_ACTIONS, Action, Operation

_OFF_ORDER: list[tuple[str, ...]] = [
    ("Node",),
    ("ComputeModule", "RouterModule"),
    ("Chassis",),
    ("MgmtSwitch", "MgmtHLSwitch", "CDUMgmtSwitch"),
    ("CabinetPDUPowerConnector",),
]
CONTROLLER_TYPES = ("NodeBMC", "RouterBMC", "ChassisBMC")
SLOT_TYPES = ("ComputeModule", "RouterModule")

_OFF_TIER = {t: i for i, group in enumerate(_OFF_ORDER) for t in group}
RESTART_TIER = len(_OFF_ORDER)
CONTROLLER_TIER = RESTART_TIER + 1
_ON_TIER = {t: CONTROLLER_TIER + len(_OFF_ORDER) - i for t, i in _OFF_TIER.items()}


def tier_of(action: Action, component_type: str) -> int:
    if component_type in CONTROLLER_TYPES:
        return CONTROLLER_TIER
    if action in OFF_ACTIONS:
        return _OFF_TIER.get(component_type, 0)
    if action is Action.GRACEFUL_RESTART:
        return RESTART_TIER
    return _ON_TIER.get(component_type, _ON_TIER["Node"])


# The actions an operation may need, whatever the state the component turns out to be in.
_POSSIBLE = {
    Operation.ON: (Action.ON,),
    Operation.OFF: (Action.GRACEFUL_SHUTDOWN,),
    Operation.SOFT_OFF: (Action.GRACEFUL_SHUTDOWN,),
    Operation.FORCE_OFF: (Action.FORCE_OFF,),
    Operation.HARD_RESTART: (Action.GRACEFUL_SHUTDOWN, Action.ON),
    Operation.INIT: (Action.GRACEFUL_SHUTDOWN, Action.ON),
    Operation.SOFT_RESTART: (Action.GRACEFUL_RESTART, Action.GRACEFUL_SHUTDOWN, Action.ON),
}


def possible_tiers(operation: Operation, component_type: str) -> set[int]:
    return {tier_of(a, component_type) for a in _POSSIBLE[operation]}


def first_tier(operation: Operation, component_type: str) -> int:
    """The earliest tier the task may act in, before its power state is known."""
    return min(possible_tiers(operation, component_type))


def is_descendant(name: str, ancestor: str) -> bool:
    """x1000c0s1b0n0 is below x1000c0s1, x1000c0s10b0n0 is not."""
    return (len(name) > len(ancestor) and name.startswith(ancestor)
            and name[len(ancestor)].isalpha())
