"""A node's power capping found over Redfish (local inventory), described as SMD would describe
it so that the same rule picks the style (domain.capping.cap_info_from_smd).

From the ComputerSystem's linked chassis: a `Controls` collection of Power controls (Cray EX
controls carry `Oem.Cray` and are written through Controls.Deep; others are DMTF Controls, each
PATCHed itself), else a `Power` resource's PowerControl list, else HPE's AccPowerService.
Capping is optional: a node whose BMC offers none, or answers badly, is stored without it.
"""
from __future__ import annotations

from dataclasses import replace

from pcs.domain.capping import CapStyle, cap_info_from_smd, member, path_of
from pcs.redfish.client import RedfishClient

ACCELERATOR_LIMIT = "#HpeServerAccPowerLimit.ConfigurePowerLimit"


def discover_capping(client: RedfishClient, system: dict) -> dict | None:
    """CapInfo.to_json() of the node, or None."""
    for link in path_of(system, "Links", "Chassis") or []:
        chassis = _get(client, member(link, "@odata.id"))
        info = chassis and _from_chassis(client, chassis)
        if info is not None:
            return info.to_json()
    return None


def _from_chassis(client: RedfishClient, chassis: dict):
    controls_url = path_of(chassis, "Controls", "@odata.id")
    if controls_url:
        return _from_controls(client, controls_url)
    power_url = path_of(chassis, "Power", "@odata.id")
    if power_url:
        power = _get(client, power_url) or {}
        return cap_info_from_smd({"PowerURL": power_url, "PowerControl": [
            {"@odata.id": member(e, "@odata.id"), "Name": member(e, "Name"),
             "OEM": member(e, "Oem")} for e in member(power, "PowerControl") or []]})
    service = path_of(chassis, "Oem", "Hpe", "Links", "AccPowerService", "@odata.id")
    if service:
        return _from_accelerator_service(client, service.rstrip("/") + "/PowerLimit")
    return None


def _from_controls(client: RedfishClient, url: str):
    found, cray = [], False
    for link in member(_get(client, url) or {}, "Members") or []:
        control_url = member(link, "@odata.id")
        control = _get(client, control_url)
        if not control or str(member(control, "ControlType") or "") != "Power":
            continue
        cray = cray or path_of(control, "Oem", "Cray") is not None
        found.append({"URL": control_url, "Control": control})
    info = cap_info_from_smd({"Controls": found}) if found else None
    return info if info is None or cray else replace(info, style=CapStyle.CONTROLS)


def _from_accelerator_service(client: RedfishClient, url: str):
    limits = _get(client, url)
    if not limits:
        return None
    ranges = member(limits, "PowerLimitRanges") or [{}]
    target = path_of(limits, "Actions", ACCELERATOR_LIMIT, "target")
    return cap_info_from_smd({"PowerURL": url, "PowerControl": [
        {"OEM": {"HPE": {"PowerLimit": {"Min": member(r, "MinimumPowerLimit"),
                                        "Max": member(r, "MaximumPowerLimit")},
                         "Target": target}}} for r in ranges]})


def _get(client: RedfishClient, path) -> dict | None:
    if not isinstance(path, str) or not path:
        return None
    exchange = client.get(path)
    return exchange.json if exchange.ok and isinstance(exchange.json, dict) else None
