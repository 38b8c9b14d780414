"""The simulator's SMD face: HSM v2 (components, endpoints, power maps, locks, state pushes)
describing the simulated fleet, served on its own port beside the BMCs, plus an admin API
under /admin/smd. ``state``, ``reservations`` and ``inventory`` are pure; ``routes``,
``admin_routes`` and ``app`` are the HTTP side."""
from __future__ import annotations

from .app import create_app, start
from .face import SmdFace

__all__ = ["SmdFace", "create_app", "start"]
