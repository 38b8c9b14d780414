"""A node's power limits over Redfish, in the style its inventory names (INTEGRATION.md §6):

- A, Cray EX Controls: GET each control; write all members in one PATCH of Controls.Deep (a BMC
  that has no Controls.Deep, 404 or 405, gets each control PATCHed itself, as in D);
- B, DMTF Power: GET and PATCH the PowerURL's PowerControl list;
- C, HPE Apollo 6500: GET the AccPowerService PowerLimit, POST its ConfigurePowerLimit action;
- D, DMTF Control resources: GET and PATCH each control.

Every request goes through the RedfishClient and comes back as an Exchange; nothing here
knows the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pcs.domain.capping import (CapInfo, CapStyle, Reading, UnreadableCap, apollo_body,
                                control_member, controls_deep_url, power_control_body, read_cap)
from pcs.redfish.client import Exchange, RedfishClient

NO_DEEP_PATCH = (404, 405)   # a BMC without Controls.Deep


@dataclass
class Read:
    """What one or more GETs found: readings and limits, or the BMC's error."""
    readings: list[Reading] = field(default_factory=list)
    limits: dict | None = None
    error: str = ""
    exchanges: list[Exchange] = field(default_factory=list)


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    body: dict


class CapDevice:
    def __init__(self, client: RedfishClient, info: CapInfo):
        self.client, self.info = client, info

    def read_urls(self, names: list[str] | None = None) -> list[str]:
        """The resources to GET: each (named) control in styles A and D, else the PowerURL."""
        if self.info.style in (CapStyle.CRAY_CONTROLS, CapStyle.CONTROLS):
            return [c.url for c in self.info.controls if names is None or c.name in names]
        return [self.info.power_url]

    def read(self, url: str) -> Read:
        exchange = self.client.get(url)
        found = Read(exchanges=[exchange])
        if not exchange.ok:
            found.error = exchange.error or "no answer"
        elif not isinstance(exchange.json, dict):
            found.error = f"BMC answered {exchange.status_code} without a JSON body at {url}"
        else:
            try:
                found.readings, found.limits = read_cap(self.info.style, exchange.json,
                                                        self.info.power_url)
            except UnreadableCap as exc:
                found.error = str(exc)
        return found

    def read_all(self, names: list[str]) -> Read:
        """Every named control, in one Read (the first error stops it)."""
        total = Read()
        for url in self.read_urls(names):
            one = self.read(url)
            total.exchanges += one.exchanges
            total.readings += one.readings
            if one.error:
                total.error = one.error
                break
        return total

    def writes(self, values: dict[str, int]) -> list[Write]:
        """The requests that set these controls (names known to the inventory)."""
        info = self.info
        controls = [info.control(name) for name in values]
        if info.style is CapStyle.CRAY_CONTROLS:
            members = [control_member(c.url, values[c.name]) for c in controls]
            return [Write("PATCH", controls_deep_url(controls[0].url), {"Members": members})]
        if info.style is CapStyle.CONTROLS:
            return self.control_writes(values)
        if info.style is CapStyle.APOLLO:
            return [Write("POST", info.target, apollo_body(next(iter(values.values()))))]
        return [Write("PATCH", info.power_url, power_control_body(info, values))]

    def control_writes(self, values: dict[str, int]) -> list[Write]:
        out = []
        for name, value in values.items():
            url = self.info.control(name).url
            member = control_member(url, value)
            member.pop("@odata.id")
            out.append(Write("PATCH", url, member))
        return out

    def send(self, write: Write) -> Exchange:
        return self.client.send(write.method, write.path, write.body)


def deep_patch_missing(write: Write, exchange: Exchange) -> bool:
    """Whether a Controls.Deep PATCH met a BMC that does not serve it (write each control)."""
    return write.path.endswith("/Controls.Deep") and exchange.status_code in NO_DEEP_PATCH
