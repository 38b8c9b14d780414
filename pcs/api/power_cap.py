"""Power capping routes: not built yet; they answer 501 so clients learn it plainly."""
from __future__ import annotations

from flask import Blueprint

from pcs.api.errors import problem

bp = Blueprint("power_cap", __name__)

NOT_YET = "power capping is not implemented by this service yet"


@bp.route("/power-cap", methods=["GET", "PATCH"])
@bp.post("/power-cap/snapshot")
@bp.get("/power-cap/<task_id>")
def not_implemented(task_id: str | None = None):
    return problem(501, NOT_YET)
