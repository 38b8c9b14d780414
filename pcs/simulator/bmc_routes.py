"""Route tables of node BMCs and chassis BMCs, and the TaskService every device serves
(included in each kind's table).

Node BMC: Systems/<NodeJ> with ComputerSystem.Reset, Chassis/Enclosure, Managers/BMC with
Manager.Reset. Chassis BMC: Chassis/Enclosure and Chassis/Blade<s> with Chassis.Reset, and an
EnclosureManager. A node BMC's capping resources come first (``capping_routes``).
"""
from __future__ import annotations

from aiohttp import web

from .capping import link_node_chassis
from .fleet import (
    MANAGER_RESET_TYPES,
    ChassisBMC,
    FleetError,
    Unreachable,
    chassis_resource,
    enclosure_chassis_resource,
    manager_resource,
    system_resource,
)
from .redfish import (
    COLLECTION_TYPES,
    BmcCall,
    Handler,
    apply_reset,
    bad_reset_type,
    fault_answer,
    json_answer,
    malformed_json,
    no_content,
    not_found,
    redfish_error,
    reset_type_of,
)
from .resources import collection
from .routing import RouteTable
from .tasks import task_resource, task_service, task_uri, tasks_collection

SYSTEMS, CHASSIS, MANAGERS = "/redfish/v1/Systems", "/redfish/v1/Chassis", "/redfish/v1/Managers"
TASK_SERVICE = "/redfish/v1/TaskService"

# Task ids are looked up by the handler, so any other method on a task id is 405 (read-only).
task_routes: RouteTable[Handler] = RouteTable()
node_routes: RouteTable[Handler] = RouteTable(
    resolvers={"system": lambda b, params: params["system"] in b.systems})
chassis_bmc_routes: RouteTable[Handler] = RouteTable(
    resolvers={"chassis": lambda cb, params: params["chassis"] in cb.elements()})


def members_answer(coll: str, members: list) -> web.Response:
    return json_answer(collection(coll, COLLECTION_TYPES[coll], members))


# ---- TaskService (every kind of device) ------------------------------------------------
@task_routes.get(TASK_SERVICE)
def get_task_service(call: BmcCall) -> web.Response:
    return json_answer(task_service())


@task_routes.get(f"{TASK_SERVICE}/Tasks")
def get_tasks(call: BmcCall) -> web.Response:
    return json_answer(tasks_collection(call.device))


@task_routes.get(f"{TASK_SERVICE}/Tasks/{{task}}")
def get_task(call: BmcCall) -> web.Response:
    """A task monitor: 202 while the task runs, then the finished Task."""
    task = call.device.tasks.get(call.params["task"])
    if task is None:
        return not_found(call.path)
    running = task.state(call.now) == "Running"
    resp = json_answer(task_resource(task, call.now), 202 if running else 200)
    if running:
        resp.headers["Location"] = task_uri(task)
    return resp


# ---- collections ---------------------------------------------------------------------------
@node_routes.get(SYSTEMS)
@chassis_bmc_routes.get(SYSTEMS)
def get_systems(call: BmcCall) -> web.Response:
    return members_answer("Systems", [f"{SYSTEMS}/{name}" for name in call.device.systems])


@node_routes.get(CHASSIS)
def get_node_chassis_collection(call: BmcCall) -> web.Response:
    return members_answer("Chassis", [f"{CHASSIS}/Enclosure"])


@chassis_bmc_routes.get(CHASSIS)
def get_chassis_collection(call: BmcCall) -> web.Response:
    return members_answer("Chassis", [f"{CHASSIS}/{cid}" for cid in call.device.elements()])


@node_routes.get(MANAGERS)
@chassis_bmc_routes.get(MANAGERS)
def get_managers(call: BmcCall) -> web.Response:
    return members_answer("Managers", [f"{MANAGERS}/BMC"])


# ---- node BMC ------------------------------------------------------------------------------
@node_routes.get(f"{SYSTEMS}/{{system}}")
def get_system(call: BmcCall) -> web.Response:
    name, b = call.params["system"], call.device
    body = system_resource(b, name, call.now, call.fleet.allowable(b))
    return json_answer(link_node_chassis(call.fleet.capping.of(b.xname), name, body))


@node_routes.post(f"{SYSTEMS}/{{system}}/Actions/ComputerSystem.Reset")
def reset_system(call: BmcCall) -> web.StreamResponse:
    name, b = call.params["system"], call.device
    reset_type = reset_type_of(call, name)
    if isinstance(reset_type, web.Response):
        return reset_type
    try:
        task = call.fleet.start_task(b.xname, name, reset_type, call.path, call.body, call.now)
        applied = (True if task is not None
                   else call.fleet.reset(b.xname, name, reset_type, call.now))
    except Unreachable as exc:
        return redfish_error(503, "ServiceTemporarilyUnavailable", str(exc))
    except FleetError:
        return bad_reset_type(reset_type)
    if task is None:
        return no_content(applied)
    resp = json_answer(task_resource(task, call.now), 202)
    resp.headers["Location"] = task_uri(task)
    return fault_answer(resp, "task")


@node_routes.get(f"{CHASSIS}/Enclosure")
def get_node_enclosure(call: BmcCall) -> web.Response:
    return json_answer(chassis_resource(call.device))


@node_routes.get(f"{MANAGERS}/BMC")
def get_node_manager(call: BmcCall) -> web.Response:
    return json_answer(manager_resource(call.device, "BMC"))


@node_routes.post(f"{MANAGERS}/BMC/Actions/Manager.Reset")
@chassis_bmc_routes.post(f"{MANAGERS}/BMC/Actions/Manager.Reset")
def reset_manager(call: BmcCall) -> web.Response:
    """The BMC reboots: unreachable for the fleet's boot delay, its nodes left alone."""
    if call.raw and not isinstance(call.body, dict):
        return malformed_json()
    reset_type = call.body.get("ResetType") if isinstance(call.body, dict) else None
    if reset_type is not None and reset_type not in MANAGER_RESET_TYPES:
        return bad_reset_type(reset_type)
    call.fleet.manager_reset(call.device.xname, call.now)
    call.changed()
    return web.Response(status=204)


# ---- chassis BMC ---------------------------------------------------------------------------
@chassis_bmc_routes.get(f"{CHASSIS}/{{chassis}}")
def get_chassis_element(call: BmcCall) -> web.Response:
    cb: ChassisBMC = call.device
    call.fleet.sync_for(cb, call.now)   # coupled power changes due by now show
    return json_answer(enclosure_chassis_resource(cb, call.params["chassis"], call.now,
                                                  call.fleet.allowable(cb)))


@chassis_bmc_routes.post(f"{CHASSIS}/{{chassis}}/Actions/Chassis.Reset")
def reset_chassis_element(call: BmcCall) -> web.Response:
    return apply_reset(call, lambda reset_type: call.fleet.reset_chassis(
        call.device.xname, call.params["chassis"], reset_type, call.now))


@chassis_bmc_routes.get(f"{MANAGERS}/BMC")
def get_enclosure_manager(call: BmcCall) -> web.Response:
    return json_answer(manager_resource(call.device, "EnclosureManager"))


node_routes.include(task_routes)
chassis_bmc_routes.include(task_routes)
