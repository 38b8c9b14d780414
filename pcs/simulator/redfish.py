"""What a simulated device's route handler is given, and the Redfish answers it gives back."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .fleet import BMC, EnclosureOff, Fleet, FleetError, error_body

JSON_CT = "application/json"
COLLECTION_TYPES = {"Systems": "ComputerSystem", "Chassis": "Chassis", "Managers": "Manager"}


@dataclass
class BmcCall:
    """One authorized request to one simulated device, as its route handler sees it."""

    fleet: Fleet
    device: BMC
    path: str               # without trailing slashes: error messages name it so
    raw: bytes
    body: Any               # the parsed JSON, the text of a body that is not JSON, or None
    now: float
    changed: Callable[[], None]   # the device's reachability may have changed
    params: dict[str, str] = field(default_factory=dict)


Handler = Callable[[BmcCall], web.Response]


def json_answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        content_type=JSON_CT, headers={"OData-Version": "4.0"})


def redfish_error(status: int, message_id: str, message: str,
                  resolution: str = "None.") -> web.Response:
    return json_answer(error_body(message_id, message, resolution), status)


def fault_answer(resp: web.StreamResponse, kind: str) -> web.StreamResponse:
    """Mark the answer as decided by a fault of ``kind`` (shown in the request log)."""
    resp["fault"] = kind
    return resp


def no_content(applied: bool) -> web.Response:
    """204 for an accepted action; marked when an 'ignore' fault swallowed it."""
    resp = web.Response(status=204)
    return resp if applied else fault_answer(resp, "ignore")


def malformed_json() -> web.Response:
    return redfish_error(400, "MalformedJSON",
                         "The request body submitted was malformed JSON and could not be "
                         "parsed by the receiving service.",
                         "Ensure that the request body is valid JSON and resubmit.")


def bad_parameter(name: str, value: Any) -> web.Response:
    return redfish_error(400, "ActionParameterNotSupported",
                         f"The parameter {name} with value '{value}' is not supported.",
                         "Remove the parameter supplied and resubmit the request "
                         "if the operation failed.")


def bad_reset_type(reset_type: Any) -> web.Response:
    return bad_parameter("ResetType", reset_type)


def unauthorized() -> web.Response:
    resp = redfish_error(401, "InsufficientPrivilege",
                         "There are insufficient privileges for the account or credentials "
                         "associated with the current session to perform the requested "
                         "operation.", "Provide valid credentials.")
    resp.headers["WWW-Authenticate"] = 'Basic realm="simulator"'
    return resp


def not_found(path: str) -> web.Response:
    return redfish_error(404, "ResourceMissingAtURI",
                         f"The resource at the URI {path} was not found.",
                         "Place a valid resource at the URI or correct the URI "
                         "and resubmit the request.")


def not_allowed(path: str) -> web.Response:
    return redfish_error(405, "ActionNotSupported", f"The method is not supported on {path}.")


def reset_type_of(call: BmcCall, system: str | None = None) -> Any:
    """The ResetType the body asks for, or the error answer ('refuse' faults included)."""
    if not isinstance(call.body, dict):
        return malformed_json()
    reset_type = call.body.get("ResetType")
    if not isinstance(reset_type, str) or reset_type not in call.fleet.allowable(call.device):
        return bad_reset_type(reset_type)
    if call.fleet.refuses(call.device, system, reset_type):   # advertised, yet turned down
        return fault_answer(bad_reset_type(reset_type), "refuse")
    return reset_type


def apply_reset(call: BmcCall, reset: Callable[[str], bool]) -> web.Response:
    """Check the body's ResetType, then ``reset(reset_type)``: 204 (marked if an 'ignore'
    fault swallowed it), or 400 when the device turns the type down."""
    reset_type = reset_type_of(call)
    if isinstance(reset_type, web.Response):
        return reset_type
    try:
        applied = reset(reset_type)
    except EnclosureOff as exc:   # a blade cannot power on in an enclosure that is off
        return redfish_error(400, "ActionNotSupported", str(exc), "Power on the Enclosure first.")
    except FleetError:
        return bad_reset_type(reset_type)
    return no_content(applied)
