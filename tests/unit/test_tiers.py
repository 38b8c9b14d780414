"""Power tiers (API.md, power sequencing): pure rules."""
from __future__ import annotations

import pytest

from pcs.domain.operations import Action, Operation
from pcs.domain.tiers import first_tier, is_descendant, possible_tiers, tier_of


def test_off_type_actions_go_children_first():
    order = [tier_of(Action.FORCE_OFF, t) for t in
             ("Node", "ComputeModule", "Chassis", "MgmtSwitch", "CabinetPDUPowerConnector")]
    assert order == sorted(order) and len(set(order)) == 5
    assert tier_of(Action.FORCE_OFF, "RouterModule") == tier_of(Action.FORCE_OFF, "ComputeModule")


def test_on_type_actions_go_parents_first_after_every_off_and_restart():
    order = [tier_of(Action.ON, t) for t in
             ("CabinetPDUPowerConnector", "MgmtSwitch", "Chassis", "ComputeModule", "Node")]
    assert order == sorted(order) and len(set(order)) == 5
    last_off = tier_of(Action.GRACEFUL_SHUTDOWN, "CabinetPDUPowerConnector")
    restart = tier_of(Action.GRACEFUL_RESTART, "Node")
    controllers = tier_of(Action.GRACEFUL_RESTART, "NodeBMC")
    assert last_off < restart < controllers < min(order)


@pytest.mark.parametrize("bmc", ["NodeBMC", "RouterBMC", "ChassisBMC"])
def test_controller_restarts_come_after_all_other_restarts(bmc):
    assert tier_of(Action.GRACEFUL_RESTART, bmc) > tier_of(Action.GRACEFUL_RESTART, "Chassis")


def test_a_node_only_power_on_spans_one_tier_and_hard_restart_two():
    assert possible_tiers(Operation.ON, "Node") == {tier_of(Action.ON, "Node")}
    assert len(possible_tiers(Operation.HARD_RESTART, "Node")) == 2
    assert first_tier(Operation.HARD_RESTART, "Chassis") == tier_of(Action.FORCE_OFF, "Chassis")
    assert first_tier(Operation.ON, "Chassis") < first_tier(Operation.ON, "Node")


@pytest.mark.parametrize("name,ancestor,expected", [
    ("x1000c0s1b0n0", "x1000c0s1", True),
    ("x1000c0s10b0n0", "x1000c0s1", False),
    ("x1000c0s1", "x1000c0s1", False),
    ("x1000c0s1b0n0", "x1000c0", True),
    ("x1000c1s1b0n0", "x1000c0", False),
])
def test_descendants_are_told_apart_from_names_with_the_same_prefix(name, ancestor, expected):
    assert is_descendant(name, ancestor) is expected
