"""The /locks blueprint (an addition): administrator locks on components."""
from __future__ import annotations

from flask import Blueprint

from pcs import locks
from pcs.api.auth import requester
from pcs.api.body import at_most, json_body
from pcs.api.schemas import LockList, LockRequest
from pcs.api.services import services
from pcs.api.targets import expand, single

bp = Blueprint("locks", __name__)


@bp.post("/locks")
def add_locks():
    args = LockRequest().load(at_most(json_body(), "xnames",
                                      services().settings.max_locations))
    names = expand(args["xnames"])
    with services().db.transaction() as session:
        added = locks.lock(session, names, args["reason"], requester())
    return LockList().dump({"locks": added})


@bp.get("/locks")
def list_locks():
    with services().db.transaction() as session:
        return LockList().dump({"locks": locks.list_locks(session)})


@bp.delete("/locks/<xname>")
def remove_lock(xname: str):
    name = single(xname)
    with services().db.transaction() as session:
        locks.unlock(session, name)
    return "", 204
