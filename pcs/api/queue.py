"""The /queue blueprint (an addition): who holds each component and who waits behind."""
from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import exists, select

from pcs import queries
from pcs.api.schemas import ComponentQueueSchema, QueueList
from pcs.api.services import services
from pcs.api.targets import expand, single
from pcs.errors import NotFound
from pcs.models import Component

bp = Blueprint("queue", __name__)


@bp.get("/queue")
def list_queues():
    names = expand(request.args.getlist("xname")) or None
    with services().db.transaction() as session:
        queues = queries.component_queues(session, names)
    return QueueList().dump({"queues": queues})


@bp.get("/queue/<xname>")
def get_queue(xname: str):
    name = single(xname)
    with services().db.transaction() as session:
        if not session.scalar(select(exists().where(Component.xname == name))):
            raise NotFound(f"{name} is not in the inventory")
        queues = queries.component_queues(session, [name])
    entry = queues[0] if queues else {"xname": name, "active": None, "queued": []}
    return ComponentQueueSchema().dump(entry)
