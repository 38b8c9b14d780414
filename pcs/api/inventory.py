"""The /inventory blueprint (an addition): BMCs and the components discovered behind them."""
from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pcs.api.body import json_body
from pcs.api.schemas import BmcList, BmcPatch, BmcRequest, BmcSchema, ComponentList
from pcs.api.services import services
from pcs.domain import xnames
from pcs.domain.operations import supported_operations
from pcs.errors import Conflict, InvalidRequest
from pcs.inventory import store
from pcs.inventory.discovery import ENDPOINT_TYPES, discover
from pcs.models import Component
from pcs.redfish.client import RedfishClient

bp = Blueprint("inventory", __name__)
# Changing any of these decides who receives the password, or whether it goes in clear text.
WHERE_THE_PASSWORD_GOES = ("address", "scheme", "verify_tls", "ca_bundle")


@bp.before_request
def _registration_only_in_local_mode():
    """In smd mode SMD owns the inventory: pcs reads it and never writes it."""
    svc = services()
    if request.method not in ("GET", "HEAD", "OPTIONS") and svc.inventory.name != "local":
        raise Conflict(f"the inventory comes from SMD ({svc.settings.sms_server}): "
                       "add, change or remove BMCs and components there")


@bp.post("/inventory/bmcs")
def add_bmc():
    svc = services()
    args = BmcRequest().load(json_body())
    bmc = _bmc_xname(args["xname"])
    reg = store.BmcRegistration(bmc.name, args["address"], args["scheme"],
                                args["username"], args["password"], args["verifyTls"],
                                args["caBundle"])
    explicit = _explicit_systems(bmc, args["systems"])
    with svc.db.transaction() as session:
        if store.bmc_exists(session, reg.xname):
            raise Conflict(f"BMC {reg.xname} is already registered; change it with PATCH")
    client = _client(reg.bmc_address(svc.settings.ca_bundle))
    try:
        systems = discover(client, bmc, explicit)   # 422 when it fails
    finally:
        client.close()
    try:
        with svc.db.transaction() as session:
            bmc = store.add_bmc(session, reg, systems, svc.credentials)
    except IntegrityError:
        raise Conflict(f"BMC {reg.xname} or one of its components is already registered") from None
    body = BmcSchema().dump(_bmc_view(bmc, [s.xname for s in systems]))
    return body, 201, {"Location": f"../inventory/bmcs/{bmc.xname}"}


@bp.get("/inventory/bmcs")
def list_bmcs():
    with services().db.transaction() as session:
        bmcs = store.list_bmcs(session)
        members = _components_by_bmc(session)
    return BmcList().dump({"bmcs": [_bmc_view(b, members.get(b.id, [])) for b in bmcs]})


@bp.get("/inventory/bmcs/<xname>")
def get_bmc(xname: str):
    with services().db.transaction() as session:
        bmc = store.get_bmc(session, xnames.normalize(xname))
        members = _components_by_bmc(session)
    return BmcSchema().dump(_bmc_view(bmc, members.get(bmc.id, [])))


@bp.patch("/inventory/bmcs/<xname>")
def patch_bmc(xname: str):
    svc = services()
    changes = BmcPatch().load(json_body())
    if not changes:
        raise InvalidRequest("nothing to change: give address, scheme, username, password, "
                             "verifyTls or caBundle")
    renamed = {"verifyTls": "verify_tls", "caBundle": "ca_bundle"}
    changes = {renamed.get(k, k): v for k, v in changes.items()}
    with svc.db.transaction() as session:
        current = store.get_bmc(session, xnames.normalize(xname))
        moved = sorted(k for k in WHERE_THE_PASSWORD_GOES
                       if k in changes and changes[k] != getattr(current, k))
        if moved and "password" not in changes:
            # Else one PATCH would send the stored password to any address it names.
            raise InvalidRequest(f"password: required when {', '.join(moved)} change "
                                 "(the stored password is never sent to a new place)")
        # Verify with exactly what will be stored (an empty password is a password too).
        if "password" not in changes and current.password_encrypted is None:
            raise InvalidRequest(f"BMC {current.xname} has no stored password: give one")
        password = (changes["password"] if "password" in changes
                    else svc.credentials.decrypt(current.password_encrypted))
        merged = store.BmcRegistration(
            current.xname, changes.get("address", current.address),
            changes.get("scheme", current.scheme), changes.get("username", current.username),
            password, changes.get("verify_tls", current.verify_tls),
            changes.get("ca_bundle", current.ca_bundle))
    _verify_reachable(merged)
    with svc.db.transaction() as session:
        bmc = store.update_bmc(session, merged.xname, svc.credentials, **changes)
        members = _components_by_bmc(session)
    return BmcSchema().dump(_bmc_view(bmc, members.get(bmc.id, [])))


@bp.delete("/inventory/bmcs/<xname>")
def delete_bmc(xname: str):
    with services().db.transaction() as session:
        store.delete_bmc(session, xnames.normalize(xname))
    return "", 204


@bp.get("/inventory/components")
def list_components():
    with services().db.transaction() as session:
        rows = store.list_components(session)
    views = []
    for component, bmc_xname in rows:
        view = {c: getattr(component, c) for c in (
            "xname", "type", "redfish_path", "reset_target", "allowable_values", "power_state",
            "management_state", "status_error", "last_updated", "last_polled")}
        view["bmc"] = bmc_xname
        view["supported"] = [op.value for op in supported_operations(component.allowable_values)]
        views.append(view)
    return ComponentList().dump({"components": views})


def _bmc_xname(text: str) -> xnames.Xname:
    parsed = xnames.parse(text)
    if parsed is None or parsed.type not in ENDPOINT_TYPES:
        raise InvalidRequest(
            f"xname: '{text}' is not a Redfish endpoint xname (node BMC x1000c0s0b0, chassis "
            f"BMC x1000c0b0, router BMC x1000c0r0b0, PDU controller x3000m0, switch x3000c0w14)")
    return parsed


def _explicit_systems(bmc: xnames.Xname, systems: dict | None) -> dict[str, str] | None:
    if not systems:
        return None
    if bmc.type != "NodeBMC":
        raise InvalidRequest(f"systems: only a node BMC has systems, not a {bmc.type}")
    out = {}
    for name, path in systems.items():
        parsed = xnames.parse(name)
        if parsed is None or parsed.type != "Node" or not parsed.name.startswith(bmc.name + "n"):
            raise InvalidRequest(f"systems: '{name}' is not a node of BMC {bmc.name}")
        out[parsed.name] = path
    return out


def _client(address) -> RedfishClient:
    settings = services().settings
    return RedfishClient(address, connect_timeout_s=settings.connect_timeout_s,
                         read_timeout_s=settings.status_timeout_s)


def _verify_reachable(reg: store.BmcRegistration) -> None:
    """Raises BmcRegistrationFailed unless the BMC answers with the (new) credentials."""
    client = _client(reg.bmc_address(services().settings.ca_bundle))
    try:
        discover(client, xnames.parse(reg.xname))
    finally:
        client.close()


def _components_by_bmc(session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for bmc_id, xname in session.execute(
            select(Component.bmc_id, Component.xname).order_by(Component.xname)):
        out.setdefault(bmc_id, []).append(xname)
    return out


def _bmc_view(bmc, components: list[str]) -> dict:
    return {"xname": bmc.xname, "address": bmc.address, "scheme": bmc.scheme,
            "username": bmc.username, "verify_tls": bmc.verify_tls, "ca_bundle": bmc.ca_bundle,
            "created_at": bmc.created_at, "components": components}
