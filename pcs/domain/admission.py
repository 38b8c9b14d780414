"""What happens to each requested location before any BMC is asked (API.md outcome table)."""
from __future__ import annotations

from dataclasses import dataclass

from pcs.domain import outcomes, xnames
from pcs.domain.operations import Operation, supported_operations


@dataclass(frozen=True)
class Verdict:
    """A location that ends at once: its final task state and the texts to show."""
    state: str          # failed | unsupported
    description: str
    error: str


def admit(operation: Operation, parsed: xnames.Xname | None,
          allowable_values: list[str] | None, in_inventory: bool, locked: bool = False,
          busy: bool = False, queue_when_busy: bool = True,
          source_error: str | None = None) -> Verdict | None:
    """None when the location may run (perhaps after waiting in its component's queue); else the
    verdict that ends its task at once. `busy`: another transition holds or awaits the component;
    `source_error`: the inventory source's reason (SMD could not be read, or does not know
    the component). SMD reservations are taken later, by the worker about to act.
    """
    if parsed is None:
        return Verdict("failed", outcomes.FAILED_TO_ACHIEVE, outcomes.INVALID_XNAME)
    if not parsed.controllable:
        return Verdict("unsupported", outcomes.FAILED_TO_ACHIEVE,
                       outcomes.no_power_control(parsed.type))
    if source_error:
        return Verdict("failed", outcomes.FAILED_TO_ACHIEVE, source_error)
    if not in_inventory:
        return Verdict("failed", outcomes.FAILED_TO_ACHIEVE, outcomes.MISSING_XNAME)
    if operation not in supported_operations(allowable_values or []):
        return Verdict("unsupported", outcomes.unsupported_description(operation.value),
                       outcomes.UNSUPPORTED_OPERATION)
    if locked or (busy and not queue_when_busy):
        return Verdict("failed", outcomes.FAILED_TO_ACHIEVE, outcomes.UNABLE_TO_RESERVE)
    return None
