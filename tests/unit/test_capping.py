"""Pure capping rules: the style from SMD's data, checks before any BMC is asked, reading each
style's body, the write bodies, merging entries, and Go's decoder texts."""
from __future__ import annotations

import pytest

from pcs.api.power_cap_schemas import GoDecodeError, load_patch, load_snapshot
from pcs.domain.capping import (CapControl, CapEntry, CapInfo, CapStyle, CapTarget,
                                EntryStatus, Reading, bounds_error, cap_info_from_smd,
                                controls_deep_url, held_mismatches, merge_component, plan_patch,
                                plan_snapshot, power_control_body, read_cap)

CRAY = {"PowerURL": "", "Controls": [
    {"URL": "/redfish/v1/Chassis/Node0/Controls/NodePowerLimit",
     "Control": {"Name": "Node Power Limit", "SettingRangeMin": 350, "SettingRangeMax": 925}},
    {"URL": "/redfish/v1/Chassis/Node0/Controls/GPU0", "Control": {"Name": "GPU0"}}]}
APOLLO = {"PowerURL": "/redfish/v1/Chassis/1/Power/AccPowerService/PowerLimit",
          "PowerControl": [{"Name": "x", "OEM": {"HPE": {"PowerLimit": {"Min": 500, "Max": 1500},
                                                        "Target": "/t"}}}]}
MOUNTAIN = {"PowerURL": "/redfish/v1/Chassis/Node0/Power", "PowerControl": [
    {"@odata.id": "/redfish/v1/Chassis/Node0/Power#/PowerControl/0", "Name": "Node Power Control",
     "Oem": {"Cray": {"PowerLimit": {"Min": 350, "Max": 850}}}}]}


def test_smd_data_picks_the_style_as_upstream():
    cray = cap_info_from_smd(CRAY)
    assert cray.style is CapStyle.CRAY_CONTROLS
    assert cray.control("Node Power Limit") == CapControl(
        "Node Power Limit", "/redfish/v1/Chassis/Node0/Controls/NodePowerLimit", 350, 925, 0)
    assert cray.control("GPU0").minimum is None   # unknown bounds are not checked
    apollo = cap_info_from_smd(APOLLO)
    assert (apollo.style, apollo.target, apollo.controls[0].name) == (
        CapStyle.APOLLO, "/t", "Node Power Limit")
    mountain = cap_info_from_smd(MOUNTAIN)
    assert mountain.style is CapStyle.POWER
    assert mountain.controls[0].url == "/redfish/v1/Chassis/Node0/Power"   # no #fragment
    hpe = cap_info_from_smd({"PowerURL": "/redfish/v1/Chassis/1/Power",
                             "PowerControl": [{"Name": "Server Power Control"}]})
    assert hpe.controls[0].name == "Node Power Limit"
    assert cap_info_from_smd({"PowerURL": "/x"}) is None
    assert CapInfo.from_json(cray.to_json()) == cray


def node(info=cap_info_from_smd(MOUNTAIN), type_="Node", role=None):
    return CapTarget(type_, role, info)


def test_snapshot_plans_one_operation_per_control_in_style_a():
    assert plan_snapshot(node(cap_info_from_smd(CRAY))).operations == 2
    assert plan_snapshot(node()).operations == 1
    [entry] = plan_snapshot(node(None, "NodeBMC")).entries
    assert (entry.status, entry.error) == (EntryStatus.UNSUPPORTED,
                                           "Type, NodeBMC unsupported for power capping")
    assert plan_snapshot(node(None)).entries[0].error == "Missing Power Cap URI"
    assert plan_snapshot(node(role="Management")).entries[0].error == (
        "Power capping Management nodes is not supported")


def test_patch_checks_controls_and_bounds_before_the_bmc():
    plan = plan_patch(node(), {"Bogus": 3, "Node Power Control": 400})
    assert [e.error for e in plan.entries] == ["Skipping undefined control 'Bogus'"]
    assert (plan.operations, plan.values) == (1, {"Node Power Control": 400})
    plan = plan_patch(node(None, "NodeBMC"), {"Node Power Limit": 0})
    assert [e.error for e in plan.entries] == ["Skipping undefined control 'Node Power Limit'"]
    assert plan.operations == 0
    plan = plan_patch(node(), {"Node Power Control": 900})
    assert plan.entries[0].error == "Control (Node Power Control) value (900) is more than maximum (850)"
    assert plan.operations == 0
    apollo = cap_info_from_smd(dict(APOLLO, PowerControl=[{"OEM": {"HPE": {}}}]))
    assert plan_patch(node(apollo), {"Node Power Limit": 0}).entries[0].error == (
        "Missing Power Cap Target URI")


@pytest.mark.parametrize("value, error", [
    (0, None), (350, None), (850, None),
    (349, "Control (N) value (349) is less than minimum (350)"),
    (851, "Control (N) value (851) is more than maximum (850)")])
def test_bounds(value, error):
    assert bounds_error(CapControl("N", "/u", 350, 850), value) == error


def test_reading_each_style():
    control = {"Name": "Node Power Limit", "ControlMode": "Disabled", "SetPoint": 700,
               "SettingRangeMin": 350, "SettingRangeMax": 925, "PhysicalContext": "Chassis"}
    readings, limits = read_cap(CapStyle.CRAY_CONTROLS, control)
    # A disabled control caps nothing, whatever set point it remembers.
    assert readings == [Reading("Node Power Limit", 0, 925, 350)]
    assert limits == {"hostLimitMax": 925, "hostLimitMin": 350}
    readings, limits = read_cap(CapStyle.POWER, {"PowerControl": [
        {"Name": "P", "PowerLimit": {"LimitInWatts": None}, "PowerCapacityWatts": 900}]})
    assert readings == [Reading("P", 0, 900, None)]
    assert limits == {"hostLimitMax": 900}
    readings, _ = read_cap(CapStyle.POWER, {"PowerLimits": [{"PowerLimitInWatts": 600}],
                                            "PowerLimitRanges": [{"MinimumPowerLimit": 5,
                                                                  "MaximumPowerLimit": 9}]})
    assert readings == [Reading("Node Power Limit", 600, 9, 5)]
    with pytest.raises(ValueError, match="Invalid license for power capping"):
        read_cap(CapStyle.APOLLO, {"error": {"code": "iLO.0.10.LicenseKeyRequired"}})


def test_write_bodies():
    assert controls_deep_url("/redfish/v1/Chassis/Node0/Controls/NodePowerLimit") == (
        "/redfish/v1/Chassis/Node0/Controls.Deep")
    info = CapInfo(CapStyle.POWER, "/p", (CapControl("A", "/p", index=0),
                                          CapControl("B", "/p", index=1)), "", 2)
    assert power_control_body(info, {"B": 300}) == {
        "PowerControl": [{}, {"PowerLimit": {"LimitInWatts": 300}}]}
    assert held_mismatches({"A": 300}, [Reading("A", 0)]) == [
        "Control (A) value (300) was accepted by the BMC, which holds (0)"]
    assert held_mismatches({"A": 300}, [Reading("A", 300)]) == []


def test_entries_of_one_component_merge():
    entries = [CapEntry(EntryStatus.FAILED, "one"),
               CapEntry(EntryStatus.SUCCEEDED, controls=({"name": "a"},)),
               CapEntry(EntryStatus.SUCCEEDED, limits={"hostLimitMax": 5},
                        controls=({"name": "b"},)),
               CapEntry(EntryStatus.FAILED, "two")]
    assert merge_component("x", entries) == {
        "xname": "x", "error": "one; two", "limits": {"hostLimitMax": 5},
        "powerCapLimits": [{"name": "a"}, {"name": "b"}]}
    assert merge_component("x", []) == {"xname": "x"}


@pytest.mark.parametrize("raw, detail", [
    (b"", "unexpected end of JSON input"),
    (b'{"xnames": [1]}', "json: cannot unmarshal number into Go struct field "
                         "PowerCapSnapshotParameter.xnames of type string"),
    (b'"x"', "json: cannot unmarshal string into Go value of type "
             "model.PowerCapSnapshotParameter"),
])
def test_snapshot_bodies_decode_as_go(raw, detail):
    with pytest.raises(GoDecodeError) as caught:
        load_snapshot(raw)
    assert str(caught.value) == detail


def test_patch_bodies_decode_as_go():
    assert load_patch(b'{"Components": [{"XNAME": "x1", "controls": [{"name": "a", '
                      b'"value": 5}, null]}, null]}') == [("x1", [("a", 5), ("", 0)]), ("", [])]
    assert load_snapshot(b'{"xnames": null}') == []
    with pytest.raises(GoDecodeError, match="PowerCapPatchParameter.components of type "
                                            r"\[\]model.PowerCapComponentParameter"):
        load_patch(b'{"components": {}}')
