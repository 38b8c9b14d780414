"""The simulator's PDU controllers and management switches (pure)."""
from __future__ import annotations

import pytest

from pcs.simulator.fleet import Fleet, FleetError


def test_device_layout_inventory_and_describe():
    from pcs.simulator.fleet import MgmtSwitch, PDUController
    f = Fleet(9, port_base=5000, chassis_bmcs=True, pdus=2, outlets_per_pdu=3, switches=2,
              power_delay_s=2.0)
    assert [(d.xname, d.port, type(d)) for d in f.all_bmcs()[9:]] == [
        ("x1000c0b0", 5009, type(f.chassis_bmcs[0])), ("x1000c1b0", 5010, type(f.chassis_bmcs[0])),
        ("x3000m0", 5011, PDUController), ("x3000m1", 5012, PDUController),
        ("x3000c0w1", 5013, MgmtSwitch), ("x3000c0w2", 5014, MgmtSwitch)]
    assert list(f.pdus[0].outlets) == ["AA1", "AA2", "AA3"]
    inv = f.inventory("h", "u", "p")
    assert [i["type"] for i in inv[9:]] == ["ChassisBMC"] * 2 + [
        "CabinetPDUController"] * 2 + ["MgmtSwitch"] * 2
    assert inv[11]["nodes"] == [] and inv[13]["address"] == "h:5013"
    d = f.describe(0.0)
    assert d[11]["outlets"] == {"AA1": "On", "AA2": "On", "AA3": "On"}
    assert d[13]["chassis"] == {"Switch": "On"} and d[13]["type"] == "MgmtSwitch"
    flat = Fleet(2, pdus=1, switches=1, port_base=7000)   # no chassis BMCs: right after nodes
    assert [(b.xname, b.port) for b in flat.all_bmcs()[2:]] == [
        ("x3000m0", 7002), ("x3000c0w1", 7003)]
    assert Fleet(1).pdus == [] and Fleet(1).switches == []
    with pytest.raises(FleetError):
        Fleet(1, pdus=1, outlets_per_pdu=0)


def test_outlet_and_switch_power_model():
    f = Fleet(1, pdus=1, switches=1, power_delay_s=2.0)
    assert f.outlet_power_control("x3000m0", "AA2", "Off", 10.0) is True
    assert f.outlet_states(f.pdus[0], 11.0)["AA2"] == "PoweringOff"
    assert f.outlet_states(f.pdus[0], 12.0) == {"AA1": "On", "AA2": "Off", "AA3": "On",
                                                 "AA4": "On"}
    with pytest.raises(FleetError):
        f.outlet_power_control("x3000m0", "AA2", "Cycle", 13.0)
    with pytest.raises(FleetError):
        f.outlet_power_control("x3000m0", "AA9", "On", 13.0)
    assert f.set_outlet_power("x3000m0", "AA2", "on", 13.0) == "On"
    f.set_fault("x3000m0", {"fault": "ignore", "count": 1})
    assert f.outlet_power_control("x3000m0", "AA1", "Off", 14.0) is False
    assert f.outlet_states(f.pdus[0], 20.0)["AA1"] == "On"
    assert f.allowable(f.switches[0]) == ["On", "ForceOff", "GracefulShutdown"]
    assert f.switch_reset("x3000c0w1", "ForceOff", 30.0) is True
    assert f.describe_bmc(f.switches[0], 31.0)["chassis"] == {"Switch": "PoweringOff"}
    assert f.describe_bmc(f.switches[0], 32.0)["chassis"] == {"Switch": "Off"}
    assert f.set_switch_power("x3000c0w1", "On", 33.0) == "On"
    with pytest.raises(FleetError):
        f.set_allowable("x3000c0w1", ["ForceRestart"])
    with pytest.raises(FleetError):
        f.set_allowable("x3000m0", ["On"])
    with pytest.raises(FleetError):
        f.pdu("x3000c0w1")
