"""SMD ComponentEndpoints read as pcs components (INTEGRATION.md §1)."""
from __future__ import annotations

import pytest

from pcs.sources.endpoints import endpoint_component, known_ids
from pcs.sources.smd import field


def node_endpoint(**changes) -> dict:
    endpoint = {
        "ID": "x1000c0s0b0n0", "Type": "Node", "RedfishType": "ComputerSystem",
        "RedfishEndpointID": "x1000c0s0b0", "RedfishEndpointFQDN": "10.1.0.5:443",
        "OdataID": "/redfish/v1/Systems/Node0",
        "ComponentEndpointType": "ComponentEndpointComputerSystem",
        "RedfishSystemInfo": {"Name": "Node0", "Actions": {"#ComputerSystem.Reset": {
            "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown"],
            "target": "/redfish/v1/Systems/Node0/Actions/ComputerSystem.Reset"}}}}
    endpoint.update(changes)
    return endpoint


def test_a_node_endpoint_gives_its_bmc_path_target_and_allowed_values():
    found = endpoint_component(node_endpoint())
    assert (found.xname, found.type, found.bmc_xname, found.fqdn, found.path) == (
        "x1000c0s0b0n0", "Node", "x1000c0s0b0", "10.1.0.5:443", "/redfish/v1/Systems/Node0")
    assert found.reset_target == "/redfish/v1/Systems/Node0/Actions/ComputerSystem.Reset"
    assert found.reset_parameter == "ResetType"
    assert found.allowable_values == ["On", "ForceOff", "GracefulShutdown"]


@pytest.mark.parametrize("kind, info, action, xname, bmc", [
    ("ComponentEndpointChassis", "RedfishChassisInfo", "#Chassis.Reset", "x1000c0", "x1000c0b0"),
    ("ComponentEndpointManager", "RedfishManagerInfo", "#Manager.Reset", "x1000c0s0b0",
     "x1000c0s0b0"),
])
def test_chassis_and_manager_endpoints_read_their_own_action(kind, info, action, xname, bmc):
    endpoint = {"ID": xname, "RedfishEndpointID": bmc, "RedfishEndpointFQDN": "h:1",
                "OdataID": "/redfish/v1/X", "ComponentEndpointType": kind,
                info: {"Actions": {action: {"target": "/t",
                                            "ResetType@Redfish.AllowableValues": ["On"]}}}}
    found = endpoint_component(endpoint)
    assert (found.reset_target, found.allowable_values) == ("/t", ["On"])


def test_an_outlet_switches_by_power_state_with_its_allowed_values():
    endpoint = {"ID": "x3000m0p0v1", "RedfishEndpointID": "x3000m0", "RedfishEndpointFQDN": "p",
                "OdataID": "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/AA1",
                "ComponentEndpointType": "ComponentEndpointOutlet",
                "RedfishOutletInfo": {"Actions": {"#Outlet.PowerControl": {
                    "target": "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/AA1/Actions/"
                              "Outlet.PowerControl",
                    "PowerState@Redfish.AllowableValues": ["On", "Off"]}}}}
    found = endpoint_component(endpoint)
    assert found.reset_parameter == "PowerState"
    assert found.allowable_values == ["On", "Off"]


def test_keys_match_case_insensitively_as_go_decodes_them():
    endpoint = {k.lower(): v for k, v in node_endpoint().items()}
    assert endpoint_component(endpoint).bmc_xname == "x1000c0s0b0"
    assert field({"OEM": 1}, "Oem") == 1


@pytest.mark.parametrize("changes", [{"ID": "x1000c0s0b0n0p0"}, {"ID": "FAKE"},
                                     {"RedfishEndpointFQDN": ""}, {"OdataID": None}])
def test_endpoints_pcs_cannot_act_on_are_left_out(changes):
    assert endpoint_component(node_endpoint(**changes)) is None


def test_a_component_without_a_reset_action_has_no_target():
    found = endpoint_component(node_endpoint(RedfishSystemInfo={"Name": "Node0"}))
    assert found.reset_target is None and found.allowable_values == []


def test_known_ids_are_normalized_and_skip_empty_slots():
    answer = [{"ID": "x1000C0s01b0n0", "State": "On"}, {"ID": "x1000c0s1", "State": "Empty"},
              {"ID": "x1000c0s2", "State": "Populated"}]
    assert known_ids(answer) == {"x1000c0s1b0n0", "x1000c0s2"}
