"""The catalogue of PCS task outcome strings (API.md, exact text)."""
from __future__ import annotations

# taskStatusDescription
GATHERING_DATA = "Gathering data"
FAILED_TO_ACHIEVE = "Failed to achieve transition"
INTERNAL_ERROR = "Internal error while running the step (see the service log)"
ALREADY_IN_STATE = "Component already in desired state"
FAILED_TO_CONSTRUCT = "Failed to construct payload"
WAITING_FOR_CONTROLLER = "Waiting for controller to be ready"
WAITING_FOR_TIER = "Waiting for an earlier power tier to finish"

# error
INVALID_XNAME = "Invalid xname"
MISSING_XNAME = "Missing xname"
WRONG_POWER_STATE = "Component is in the wrong power state"
UNSUPPORTED_OPERATION = "Unsupported for transition operation"
UNABLE_TO_RESERVE = "Unable to reserve component"
INVALID_DEPUTY_KEY = "Invalid deputy key and unable to reserve component"
TRANSITION_ABORTED = "Transition aborted"
ABORT_STATUS_ACCEPTED = "Accepted - abort initiated"
ALREADY_FINISHED = "Transition is already finished and cannot be aborted."

# error, when SMD is the inventory source (INTEGRATION.md §1)
ERROR_RETRIEVING_HSM_DATA = "Error retrieving HSM data"
XNAME_NOT_FOUND_IN_HSM = "Xname not found in HSM"
# SMD service reservations (INTEGRATION.md §2)
ERROR_ACQUIRING_RESERVATIONS = "Error acquiring reservations"   # a description
RESERVATION_EXPIRED = "Reservation expired"


def error_acquiring_reservations(detail: str) -> str:
    return f"ERROR aquiring needed reservations: {detail}"   # sic, upstream


def no_power_control(component_type: str) -> str:
    return f"No power control for component type {component_type}"


def unsupported_description(operation: str) -> str:
    return f"Component does not support the specified transition operation, {operation}"


def must_be_on(operation: str) -> str:
    return f"Component must be in the On state for {operation}"


def applying(action: str) -> str:
    return f"Applying transition, {action}"


def confirming(action: str) -> str:
    return f"Confirming successful transition, {action}"


def confirmed(action: str) -> str:
    return f"Transition confirmed, {action}"


def applied_not_confirming(action: str) -> str:
    return f"Transition applied, {action}. Not confirming."


def failed_to_apply(action: str) -> str:
    return f"Failed to apply transition, {action}"


def timeout_waiting(action: str) -> str:
    return f"Timeout waiting for transition, {action}."


def unconfirmed(action: str, reset_type: str, state: str | None, sends: int, last_answer: str,
                read_error: str | None = None) -> str:
    """The error of an action whose target state was not seen by its deadline: upstream's
    exact words first (clients match on them), then what the BMC did."""
    seen = (f"the power state was still {state.capitalize()}" if state
            else f"the power state could not be read ({read_error})")
    times = "once" if sends == 1 else f"{sends} times"
    return (f"{timeout_waiting(action)} At the deadline {seen}; {reset_type} was sent {times}, "
            f"the BMC's last answer: {last_answer}")


def fell_back(reset_type: str, state: str, sends: int) -> str:
    times = "once" if sends == 1 else f"{sends} times"
    return (f"The power state began to change after {reset_type} and went back to "
            f"{state.capitalize()} ({reset_type} was sent {times})")


def restart_unknown(error: str) -> str:
    return f"{error}; the restart may or may not have been applied, and is not sent again"


def timeout_on_dependency(action: str, child_xname: str) -> str:
    return f"Timeout waiting for transition, {action}, on dependency, {child_xname}."


def dependency_failure(action: str, child: str, child_description: str,
                       child_error: str) -> tuple[str, str]:
    """(description, error) of a component whose child in the same transition failed before
    the component's off-type action: upstream's dependent texts, by what the child met."""
    if child_error == UNABLE_TO_RESERVE:
        text = f"Unable to reserve dependent component, {child}."
    elif child_error == INVALID_DEPUTY_KEY:
        text = f"Invalid deputy key and unable to reserve dependent component, {child}."
    elif child_error == RESERVATION_EXPIRED:
        text = f"Reservation expired for dependency, {child}."
    elif child_description.startswith("Failed to apply transition"):
        text = f"Failed to apply transition, {action}, to dependency, {child}."
    else:
        return FAILED_TO_ACHIEVE, timeout_on_dependency(action, child)
    return text, text   # upstream puts the dependent text in both


def power_action_not_supported(xname: str) -> str:
    return f"Power action not supported for {xname}"


def queued_behind(transition_id, position: int) -> str:
    return f"Queued behind transition {transition_id} (position {position})"


def timed_out_in_queue(transition_id) -> str:
    return f"Timed out in queue behind transition {transition_id}"


def aborted(previous: str) -> str:
    return f"Aborted. Last status - {previous}"


# Credential sources (pcs/sources): the error of a task, or a component's poll error, when a
# BMC's credentials cannot be had.
def no_credentials_in_vault(path: str) -> str:
    return f"No credentials in Vault at {path}"


def vault_unavailable(error: str) -> str:
    return f"Vault unavailable: {error}"


def no_stored_password(bmc_xname: str) -> str:
    return (f"No password stored for BMC {bmc_xname}: give one with PATCH "
            f"/v1/inventory/bmcs/{bmc_xname}, or take credentials from Vault (VAULT_ENABLED)")


# Power capping, per component (INTEGRATION.md §6, exact text)
CAP_XNAME_LIST_EMPTY = "Xname list is empty. A list of xnames is required"
MISSING_RF_FQDN = "Missing RfFQDN"
MISSING_POWER_CAP_URI = "Missing Power Cap URI"
MISSING_POWER_CAP_TARGET_URI = "Missing Power Cap Target URI"
CAP_MANAGEMENT_UNSUPPORTED = "Power capping Management nodes is not supported"
INVALID_CAP_LICENSE = "Invalid license for power capping"


def invalid_control_parameters(xnames: list[str]) -> str:
    return "Invalid control parameters for xnames detected " + "".join(f"{x} " for x in xnames)


def cap_type_unsupported(component_type: str) -> str:
    return f"Type, {component_type} unsupported for power capping"


def skipping_undefined_control(name: str) -> str:
    return f"Skipping undefined control '{name}'"


def cap_below_minimum(name: str, value: int, minimum: int) -> str:
    return f"Control ({name}) value ({value}) is less than minimum ({minimum})"


def cap_above_maximum(name: str, value: int, maximum: int) -> str:
    return f"Control ({name}) value ({value}) is more than maximum ({maximum})"


# Power capping, beyond upstream: what the BMC holds after accepting a write.
def cap_not_held(name: str, sent: int, held: int | None) -> str:
    shown = "no value" if held is None else f"({held})"
    return f"Control ({name}) value ({sent}) was accepted by the BMC, which holds {shown}"


def cap_unreadable(name: str) -> str:
    return f"Control ({name}) is not in the BMC's answer"
