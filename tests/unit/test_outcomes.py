"""Unit tests for pcs.domain.outcomes: the exact strings of the API.md outcome table."""
import pytest

from pcs.domain import outcomes


@pytest.mark.parametrize("value, expected", [
    (outcomes.GATHERING_DATA, "Gathering data"),
    (outcomes.FAILED_TO_ACHIEVE, "Failed to achieve transition"),
    (outcomes.ALREADY_IN_STATE, "Component already in desired state"),
    (outcomes.FAILED_TO_CONSTRUCT, "Failed to construct payload"),
    (outcomes.INVALID_XNAME, "Invalid xname"),
    (outcomes.MISSING_XNAME, "Missing xname"),
    (outcomes.WRONG_POWER_STATE, "Component is in the wrong power state"),
    (outcomes.UNSUPPORTED_OPERATION, "Unsupported for transition operation"),
    (outcomes.UNABLE_TO_RESERVE, "Unable to reserve component"),
    (outcomes.TRANSITION_ABORTED, "Transition aborted"),
    (outcomes.ABORT_STATUS_ACCEPTED, "Accepted - abort initiated"),
    (outcomes.ALREADY_FINISHED, "Transition is already finished and cannot be aborted."),
])
def test_constant_outcome_strings_are_exact(value, expected):
    assert value == expected


@pytest.mark.parametrize("func, arg, expected", [
    (outcomes.no_power_control, "Cabinet", "No power control for component type Cabinet"),
    (outcomes.unsupported_description, "Soft-Restart",
     "Component does not support the specified transition operation, Soft-Restart"),
    (outcomes.must_be_on, "Hard-Restart", "Component must be in the On state for Hard-Restart"),
    (outcomes.applying, "gracefulshutdown", "Applying transition, gracefulshutdown"),
    (outcomes.confirming, "forceoff", "Confirming successful transition, forceoff"),
    (outcomes.confirmed, "on", "Transition confirmed, on"),
    (outcomes.applied_not_confirming, "off", "Transition applied, off. Not confirming."),
    (outcomes.failed_to_apply, "gracefulrestart", "Failed to apply transition, gracefulrestart"),
    (outcomes.timeout_waiting, "gracefulshutdown",
     "Timeout waiting for transition, gracefulshutdown."),
    (outcomes.power_action_not_supported, "x1000c0s0b0n0",
     "Power action not supported for x1000c0s0b0n0"),
    (outcomes.aborted, "Confirming successful transition, on",
     "Aborted. Last status - Confirming successful transition, on"),
])
def test_formatted_outcome_strings_are_exact(func, arg, expected):
    assert func(arg) == expected
