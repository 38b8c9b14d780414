"""The reservation provider seam: who else may hold a component, and whether a deputy key
proves the right to act on it. The SMD locks API will be one provider; the local one below
knows of no outside reservations (administrator locks live in pcs.locks)."""
from __future__ import annotations

from typing import Protocol


class ReservationProvider(Protocol):
    def refusals(self, requests: dict[str, str | None]) -> dict[str, str]:
        """For xname -> deputy key (or None), the xnames that may not proceed, each with its
        error (pcs.domain.outcomes.UNABLE_TO_RESERVE or INVALID_DEPUTY_KEY)."""


class NoReservations:
    """No outside reservation system: deputy keys are kept on the task, never refused."""

    def refusals(self, requests: dict[str, str | None]) -> dict[str, str]:
        return {}

