"""The simulator's route tables: matching, 404 against 405, and the routes each device serves."""
from __future__ import annotations

import pytest

from pcs.simulator.admin_routes import admin_routes
from pcs.simulator.fleet import BMC, ChassisBMC, FleetError, MgmtSwitch, PDUController
from pcs.simulator.redfish_service import ROUTES_OF_KIND, public_routes
from pcs.simulator.routing import Found, NotAllowed, RouteTable, redfish_segments


def _table() -> RouteTable:
    table = RouteTable(resolvers={"system": lambda known, params: params["system"] in known})
    table.get("/redfish/v1/Systems/{system}")(lambda: "get system")
    table.post("/redfish/v1/Systems/{system}/Actions/Reset")(lambda: "reset")
    table.get("/redfish/v1/Tasks/{task}")(lambda: "get task")
    return table


def test_a_path_with_other_methods_is_not_allowed_and_an_unknown_one_not_found():
    table, known = _table(), {"Node0"}
    found = table.match("GET", redfish_segments("/redfish/v1/Systems/Node0"), known)
    assert isinstance(found, Found) and found.handler() == "get system"
    assert found.params == {"system": "Node0"}
    assert table.match("DELETE", redfish_segments("/redfish/v1/Systems/Node0"),
                       known) == NotAllowed(frozenset({"GET"}))
    assert table.match("GET", redfish_segments("/redfish/v1/Chassis/Node0"), known) is None


def test_a_name_the_resolver_does_not_know_is_not_found_whatever_the_method():
    table = _table()
    for method in ("GET", "DELETE"):
        assert table.match(method, redfish_segments("/redfish/v1/Systems/Node9"), {"Node0"}) is None
    # without a resolver any value matches: the handler decides
    found = table.match("GET", redfish_segments("/redfish/v1/Tasks/999"), set())
    assert found.params == {"task": "999"}


def test_trailing_slashes_are_ignored_and_empty_segments_match_no_placeholder():
    table, known = _table(), {"Node0"}
    assert redfish_segments("/redfish/v1/Systems/Node0//") == ("redfish", "v1", "Systems", "Node0")
    assert isinstance(table.match("GET", redfish_segments("/redfish/v1/Systems/Node0/"), known),
                      Found)
    assert table.match("GET", redfish_segments("/redfish/v1//Node0"), known) is None
    assert table.match("GET", ("redfish", "v1", "Tasks", ""), known) is None


def test_the_first_route_added_wins_and_included_routes_come_after():
    first, second = RouteTable(), RouteTable()
    first.get("/a/{x}")(lambda: "first")
    second.get("/a/b")(lambda: "second")
    second.post("/a/c")(lambda: "included")
    first.include(second)
    assert first.match("GET", ("a", "b")).handler() == "first"
    assert first.match("POST", ("a", "c")).handler() == "included"
    assert first.match("POST", ("a", "b")) == NotAllowed(frozenset({"GET"}))


def test_a_resolver_sees_the_placeholders_before_it_and_may_raise():
    def chassis(fleet, params):
        if params["chassis"] != "Switch":
            raise FleetError(f"unknown chassis {params['chassis']!r} on {params['switch']}")
        return True

    table = RouteTable(resolvers={"chassis": chassis})
    table.get("/bmcs/{switch}/chassis/{chassis}")(lambda: "switch")
    assert table.match("GET", ("bmcs", "w1", "chassis", "Switch")).params == {
        "switch": "w1", "chassis": "Switch"}
    with pytest.raises(FleetError, match="unknown chassis 'Fan' on w1"):
        table.match("PATCH", ("bmcs", "w1", "chassis", "Fan"))


def _served(table: RouteTable) -> set[tuple[str, str]]:
    return {(r.method, r.template) for r in table.routes()}


TASKS = {("GET", "/redfish/v1/TaskService"), ("GET", "/redfish/v1/TaskService/Tasks"),
         ("GET", "/redfish/v1/TaskService/Tasks/{task}")}
COLLECTIONS = {("GET", "/redfish/v1/Systems"), ("GET", "/redfish/v1/Chassis"),
               ("GET", "/redfish/v1/Managers")}


@pytest.mark.parametrize("kind, routes", [
    (BMC, {("GET", "/redfish/v1/Systems/{system}"),
           ("POST", "/redfish/v1/Systems/{system}/Actions/ComputerSystem.Reset"),
           ("GET", "/redfish/v1/Chassis/Enclosure"), ("GET", "/redfish/v1/Managers/BMC"),
           ("POST", "/redfish/v1/Managers/BMC/Actions/Manager.Reset")}),
    (ChassisBMC, {("GET", "/redfish/v1/Chassis/{chassis}"),
                  ("POST", "/redfish/v1/Chassis/{chassis}/Actions/Chassis.Reset"),
                  ("GET", "/redfish/v1/Managers/BMC"),
                  ("POST", "/redfish/v1/Managers/BMC/Actions/Manager.Reset")}),
    (PDUController, {("GET", "/redfish/v1/Managers/BMC"), ("GET", "/redfish/v1/PowerEquipment"),
                     ("GET", "/redfish/v1/PowerEquipment/RackPDUs"),
                     ("GET", "/redfish/v1/PowerEquipment/RackPDUs/1"),
                     ("GET", "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets"),
                     ("GET", "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/{outlet}"),
                     ("POST", "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/{outlet}/Actions/"
                              "Outlet.PowerControl")}),
    (MgmtSwitch, {("GET", "/redfish/v1/Chassis/Switch"),
                  ("POST", "/redfish/v1/Chassis/Switch/Actions/Chassis.Reset")}),
])
def test_each_kind_of_device_serves_its_tree_the_collections_and_the_task_service(kind, routes):
    assert _served(ROUTES_OF_KIND[kind]) == routes | COLLECTIONS | TASKS


def test_the_service_root_and_the_admin_api_routes():
    assert _served(public_routes) == {(m, p) for m in ("GET", "HEAD")
                                      for p in ("/redfish", "/redfish/v1")}
    bmc = "/admin/bmcs/{xname}"
    assert _served(admin_routes) == {
        ("GET", "/admin/health"), ("GET", "/admin/log"), ("DELETE", "/admin/log"),
        ("GET", "/admin/bmcs"), ("GET", bmc),
        *((m, f"{bmc}/fault") for m in ("GET", "PUT", "DELETE")),
        *((m, "/admin/bmcs/{node_bmc}/capping") for m in ("GET", "PUT")),
        *((m, f"{bmc}/allowable") for m in ("GET", "PUT", "DELETE")),
        ("PUT", f"{bmc}/systems/{{system}}"),
        *((m, f"{bmc}/outlets/{{outlet}}") for m in ("GET", "PUT")),
        *((m, "/admin/bmcs/{switch}/chassis/{switch_chassis}") for m in ("GET", "PUT")),
        *((m, f"{bmc}/chassis/{{chassis}}") for m in ("GET", "PUT"))}
