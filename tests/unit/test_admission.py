"""Unit tests for pcs.domain.admission: the outcome-table rows decided before any BMC is asked."""
import pytest

from pcs.domain.admission import Verdict, admit
from pcs.domain.operations import Operation
from pcs.domain.xnames import parse

FULL = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart"]


@pytest.mark.parametrize("operation", list(Operation))
@pytest.mark.parametrize("in_inventory", [True, False])
def test_unparsable_xname_fails_as_invalid_xname(operation, in_inventory):
    assert admit(operation, None, FULL, in_inventory) == Verdict(
        "failed", "Failed to achieve transition", "Invalid xname")


@pytest.mark.parametrize("xname, type_name", [
    ("x1000", "Cabinet"),
    ("s0", "System"),
    ("d0", "CDU"),
    ("x1000c0s0e0", "NodeEnclosure"),
    ("x1000c0r0e0", "HSNBoard"),
    ("x1000c0s0b0n0p0", "Processor"),
    ("x3000m0p0", "CabinetPDU"),
])
@pytest.mark.parametrize("in_inventory", [True, False])
def test_type_without_power_control_is_unsupported_naming_the_type(xname, type_name, in_inventory):
    verdict = admit(Operation.ON, parse(xname), FULL, in_inventory)
    assert verdict == Verdict("unsupported", "Failed to achieve transition",
                              f"No power control for component type {type_name}")


@pytest.mark.parametrize("xname", ["x1000c0s0b0n0", "x1000c0s0b0", "x1000c0", "x3000c0w14",
                                   "d0w1", "x3000m0p0v1", "x1000c0r0"])
def test_controllable_component_not_in_inventory_fails_as_missing(xname):
    assert admit(Operation.ON, parse(xname), FULL, False) == Verdict(
        "failed", "Failed to achieve transition", "Missing xname")


@pytest.mark.parametrize("operation, allowable", [
    (Operation.ON, ["ForceOff"]),
    (Operation.OFF, ["On", "ForceOff"]),
    (Operation.SOFT_OFF, ["On", "ForceOff"]),
    (Operation.FORCE_OFF, ["On", "GracefulShutdown"]),
    (Operation.INIT, ["GracefulShutdown", "ForceOff"]),
    (Operation.HARD_RESTART, ["On"]),
    (Operation.SOFT_RESTART, ["On"]),
    (Operation.ON, []),
    (Operation.FORCE_OFF, None),
])
def test_operation_not_supported_by_the_component_is_unsupported(operation, allowable):
    verdict = admit(operation, parse("x1000c0s0b0n0"), allowable, True)
    assert verdict == Verdict(
        "unsupported",
        f"Component does not support the specified transition operation, {operation.value}",
        "Unsupported for transition operation")


def test_unsupported_description_uses_the_canonical_operation_spelling():
    verdict = admit(Operation.parse("hard-restart"), parse("x1000c0s0b0n0"), ["On"], True)
    assert verdict.description == (
        "Component does not support the specified transition operation, Hard-Restart")


@pytest.mark.parametrize("operation", list(Operation))
@pytest.mark.parametrize("xname", ["x1000c0s0b0n0", "X1000C0S0B0N0", "x1000c0s0", "x3000c0h12s1"])
def test_supported_operation_on_an_inventoried_component_runs(operation, xname):
    assert admit(operation, parse(xname), FULL, True) is None


def test_an_inventory_source_error_fails_with_its_text_after_the_name_checks():
    from pcs.domain import outcomes
    node = parse("x1000c0s0b0n0")
    verdict = admit(Operation.ON, node, None, False,
                    source_error=outcomes.XNAME_NOT_FOUND_IN_HSM)
    assert (verdict.state, verdict.description, verdict.error) == (
        "failed", "Failed to achieve transition", "Xname not found in HSM")
    assert admit(Operation.ON, None, None, False,
                 source_error=outcomes.ERROR_RETRIEVING_HSM_DATA).error == "Invalid xname"


def test_locked_or_busy_with_fail_policy_is_unable_to_reserve():
    node, allowable = parse("x1000c0s0b0n0"), ["On", "ForceOff"]
    assert admit(Operation.ON, node, allowable, True, locked=True).error == (
        "Unable to reserve component")
    assert admit(Operation.ON, node, allowable, True, busy=True, queue_when_busy=False).error == (
        "Unable to reserve component")
    assert admit(Operation.ON, node, allowable, True, busy=True) is None


@pytest.mark.parametrize("child_error, child_description, text", [
    ("Unable to reserve component", "Failed to achieve transition",
     "Unable to reserve dependent component, x1000c0s0b0n0."),
    ("Invalid deputy key and unable to reserve component", "Failed to achieve transition",
     "Invalid deputy key and unable to reserve dependent component, x1000c0s0b0n0."),
    ("Reservation expired", "Failed to achieve transition",
     "Reservation expired for dependency, x1000c0s0b0n0."),
    ("BMC answered 500", "Failed to apply transition, gracefulshutdown",
     "Failed to apply transition, forceoff, to dependency, x1000c0s0b0n0."),
])
def test_a_parent_names_the_dependency_its_child_failed_on(child_error, child_description,
                                                          text):
    from pcs.domain import outcomes
    assert outcomes.dependency_failure("forceoff", "x1000c0s0b0n0", child_description,
                                       child_error) == (text, text)


def test_a_child_that_timed_out_fails_its_parent_as_a_timeout_on_dependency():
    from pcs.domain import outcomes
    assert outcomes.dependency_failure(
        "gracefulshutdown", "x1000c0s0b0n0", "Failed to achieve transition",
        "Timeout waiting for transition, gracefulshutdown.") == (
        "Failed to achieve transition",
        "Timeout waiting for transition, gracefulshutdown, on dependency, x1000c0s0b0n0.")
