"""The /locks blueprint (an addition): administrator locks on components."""
from __future__ import annotations

from flask import Blueprint, request

from pcs import locks
from pcs.api.body import json_body
from pcs.api.schemas import LockRequest, LockSchema
from pcs.api.services import services
from pcs.api.targets import expand, single

bp = Blueprint("locks", __name__)


@bp.post("/locks")
def add_locks():
    args = LockRequest().load(json_body())
    names = expand(args["xnames"])
    who = {"address": request.remote_addr, "userAgent": request.headers.get("User-Agent", "")}
    with services().db.transaction() as session:
        added = locks.lock(session, names, args["reason"], who)
    return {"locks": LockSchema(many=True).dump(added)}


@bp.get("/locks")
def list_locks():
    with services().db.transaction() as session:
        return {"locks": LockSchema(many=True).dump(locks.list_locks(session))}


@bp.delete("/locks/<xname>")
def remove_lock(xname: str):
    name = single(xname)
    with services().db.transaction() as session:
        locks.unlock(session, name)
    return "", 204
