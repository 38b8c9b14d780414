"""Redfish resource bodies (pure builders) served by the simulated BMCs."""
from __future__ import annotations

import uuid
from typing import Any, Dict, List, Optional

from .model import (
    ALLOWABLE_RESET_TYPES,
    BMC,
    CHASSIS_ALLOWABLE,
    MANAGER_RESET_TYPES,
    ChassisBMC,
    PDUController,
)


def collection(coll: str, type_name: str, members: List[str]) -> Dict[str, Any]:
    return {
        "@odata.id": f"/redfish/v1/{coll}",
        "@odata.type": f"#{type_name}Collection.{type_name}Collection",
        "Name": f"{coll} Collection",
        "Members": [{"@odata.id": m} for m in members],
        "Members@odata.count": len(members),
    }


def error_body(message_id: str, message: str, resolution: str = "None.") -> Dict[str, Any]:
    return {"error": {
        "code": "Base.1.8.GeneralError",
        "message": message,
        "@Message.ExtendedInfo": [{
            "@odata.type": "#Message.v1_1_1.Message",
            "MessageId": f"Base.1.8.{message_id}",
            "Message": message,
            "Severity": "Warning",
            "Resolution": resolution,
        }],
    }}


def service_root(b: BMC) -> Dict[str, Any]:
    root = {
        "@odata.id": "/redfish/v1/",
        "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
        "Id": "RootService",
        "Name": "Root Service",
        "RedfishVersion": "1.8.0",
        "UUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{b.xname}.pcs-simulator")),
        "Systems": {"@odata.id": "/redfish/v1/Systems"},
        "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
        "Managers": {"@odata.id": "/redfish/v1/Managers"},
        "TaskService": {"@odata.id": "/redfish/v1/TaskService"},
    }
    if isinstance(b, PDUController):
        root["PowerEquipment"] = {"@odata.id": "/redfish/v1/PowerEquipment"}
    return root


def system_resource(b: BMC, name: str, now: float,
                    allowable: Optional[List[str]] = None) -> Dict[str, Any]:
    sid = f"/redfish/v1/Systems/{name}"
    return {
        "@odata.id": sid,
        "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
        "Id": name,
        "Name": name,
        "SystemType": "Physical",
        "PowerState": b.systems[name].power_state(now),
        "Status": {"State": "Enabled", "Health": "OK"},
        "Links": {"Chassis": [{"@odata.id": "/redfish/v1/Chassis/Enclosure"}],
                  "ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}]},
        "Actions": {"#ComputerSystem.Reset": {
            "target": f"{sid}/Actions/ComputerSystem.Reset",
            "ResetType@Redfish.AllowableValues": list(
                allowable if allowable is not None else ALLOWABLE_RESET_TYPES),
        }},
    }


def chassis_resource(b: BMC) -> Dict[str, Any]:
    return {
        "@odata.id": "/redfish/v1/Chassis/Enclosure",
        "@odata.type": "#Chassis.v1_10_0.Chassis",
        "Id": "Enclosure",
        "Name": "Enclosure",
        "ChassisType": "Enclosure",
        "PowerState": "On",
        "Links": {
            "ComputerSystems": [{"@odata.id": f"/redfish/v1/Systems/{n}"} for n in b.systems],
            "ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}],
        },
    }


def manager_resource(b: BMC, manager_type: str = "BMC") -> Dict[str, Any]:
    return {
        "@odata.id": "/redfish/v1/Managers/BMC",
        "@odata.type": "#Manager.v1_10_0.Manager",
        "Id": "BMC",
        "Name": f"{b.xname} BMC",
        "ManagerType": manager_type,
        "Status": {"State": "Enabled", "Health": "OK"},
        "Actions": {"#Manager.Reset": {
            "target": "/redfish/v1/Managers/BMC/Actions/Manager.Reset",
            "ResetType@Redfish.AllowableValues": list(MANAGER_RESET_TYPES),
        }},
    }


def enclosure_chassis_resource(cb: ChassisBMC, cid: str, now: float,
                               allowable: Optional[List[str]] = None) -> Dict[str, Any]:
    """/redfish/v1/Chassis/<cid> of a chassis BMC: the Enclosure or one Blade<s>."""
    uri = f"/redfish/v1/Chassis/{cid}"
    el = cb.elements()[cid]
    if cid == "Enclosure":
        links: Dict[str, Any] = {
            "Contains": [{"@odata.id": f"/redfish/v1/Chassis/{n}"}
                         for n in cb.elements() if n != "Enclosure"],
            "ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}]}
        ctype, name = "Enclosure", "Enclosure"
    else:
        links = {"ContainedBy": {"@odata.id": "/redfish/v1/Chassis/Enclosure"},
                 "ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}]}
        ctype, name = "Blade", cid
    return {
        "@odata.id": uri,
        "@odata.type": "#Chassis.v1_10_0.Chassis",
        "Id": cid,
        "Name": name,
        "ChassisType": ctype,
        "PowerState": el.power_state(now),
        "Status": {"State": "Enabled", "Health": "OK"},
        "Links": links,
        "Actions": {"#Chassis.Reset": {
            "target": f"{uri}/Actions/Chassis.Reset",
            "ResetType@Redfish.AllowableValues": list(
                allowable if allowable is not None else CHASSIS_ALLOWABLE),
        }},
    }
