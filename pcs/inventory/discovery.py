"""Discovery of a BMC's ComputerSystems over Redfish: reset target and AllowableValues."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pcs.domain import xnames
from pcs.errors import BmcRegistrationFailed
from pcs.redfish.client import Exchange, RedfishClient

SERVICE_ROOT = "/redfish/v1/"


@dataclass(frozen=True)
class DiscoveredSystem:
    xname: str
    path: str
    reset_target: str | None
    allowable_values: list[str]
    power_state: str


def discover_systems(client: RedfishClient, bmc_xname: str,
                     explicit: dict[str, str] | None = None) -> list[DiscoveredSystem]:
    """Walk the service root to each ComputerSystem.

    Without `explicit`, systems become `<bmc>n0..` in the order of the Systems collection; with it,
    exactly the mapped paths are read. Raises BmcRegistrationFailed quoting the BMC.
    """
    if explicit:
        return [_read_system(client, xname, path) for xname, path in explicit.items()]
    root = _get_json(client, SERVICE_ROOT, "read the Redfish service root")
    systems_path = _link(root, "Systems")
    if not systems_path:
        raise BmcRegistrationFailed(f"BMC at {client.address.host_port} lists no Systems")
    collection = _get_json(client, systems_path, "read the Systems collection")
    members = [_link(m) for m in collection.get("Members") or []]
    members = [m for m in members if m]
    if not members:
        raise BmcRegistrationFailed(f"BMC at {client.address.host_port} has no ComputerSystems")
    return [_read_system(client, xnames.node_name(bmc_xname, i), path)
            for i, path in enumerate(members)]


def _read_system(client: RedfishClient, xname: str, path: str) -> DiscoveredSystem:
    exchange = client.get(path)
    system = _json_or_fail(exchange, f"read system {path}")
    # Redirects are followed; keep the path the BMC finally answered at.
    path = urlsplit(exchange.final_url).path if exchange.final_url else path
    action = (system.get("Actions") or {}).get("#ComputerSystem.Reset") or {}
    allowable = action.get("ResetType@Redfish.AllowableValues")
    if allowable is None and action.get("@Redfish.ActionInfo"):
        allowable = _action_info_values(client, action["@Redfish.ActionInfo"])
    state = str(system.get("PowerState") or "").lower()
    return DiscoveredSystem(
        xname=xname, path=path, reset_target=action.get("target"),
        allowable_values=[str(v) for v in allowable or []],
        power_state={"on": "on", "off": "off"}.get(state, "undefined"))


def _action_info_values(client: RedfishClient, path: str) -> list[str]:
    exchange = client.get(path)
    if not exchange.ok or not isinstance(exchange.json, dict):
        return []
    for parameter in exchange.json.get("Parameters") or []:
        if isinstance(parameter, dict) and parameter.get("Name") == "ResetType":
            return list(parameter.get("AllowableValues") or [])
    return []


def _get_json(client: RedfishClient, path: str, what: str) -> dict:
    return _json_or_fail(client.get(path), what)


def _json_or_fail(exchange: Exchange, what: str) -> dict:
    if not exchange.ok:
        raise BmcRegistrationFailed(f"Could not {what}: {exchange.error}")
    if not isinstance(exchange.json, dict):
        raise BmcRegistrationFailed(f"Could not {what}: the BMC did not answer with JSON")
    return exchange.json


def _link(resource: dict, key: str | None = None) -> str | None:
    value = resource.get(key) if key else resource
    if isinstance(value, dict):
        return value.get("@odata.id")
    return None
