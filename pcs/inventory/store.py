"""The local inventory source: BMC and component rows. Functions take a Session; none commits."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from pcs.domain.operations import supported_operations
from pcs.domain.states import UNFINISHED
from pcs.errors import Conflict, NotFound
from pcs.inventory.credentials import CredentialStore
from pcs.inventory.discovery import DiscoveredComponent
from pcs.models import Bmc, Component, TransitionTask
from pcs.queue.scheduler import lock_components
from pcs.redfish.client import BmcAddress


@dataclass(frozen=True)
class BmcRegistration:
    xname: str
    address: str
    scheme: str
    username: str
    password: str
    verify_tls: bool
    ca_pem: str | None = None

    def bmc_address(self, ca_bundle: str | None = None) -> BmcAddress:
        return BmcAddress(self.address, self.scheme, self.username, self.password,
                          self.verify_tls, ca_bundle, self.ca_pem)


def bmc_exists(session: Session, xname: str) -> bool:
    return session.scalar(select(exists().where(Bmc.xname == xname)))


def add_bmc(session: Session, reg: BmcRegistration, systems: list[DiscoveredComponent],
            credentials: CredentialStore) -> Bmc:
    """Store a BMC and its discovered components. Raises Conflict for a taken xname."""
    taken = session.scalars(select(Component.xname).where(
        Component.xname.in_([s.xname for s in systems]))).all()
    if bmc_exists(session, reg.xname):
        raise Conflict(f"BMC {reg.xname} is already registered")
    if taken:
        raise Conflict(f"components already registered: {' '.join(sorted(taken))}")
    bmc = Bmc(xname=reg.xname, address=reg.address, scheme=reg.scheme, username=reg.username,
              password_encrypted=credentials.encrypt(reg.password), verify_tls=reg.verify_tls,
              ca_bundle=reg.ca_pem)
    session.add(bmc)
    session.flush()
    replace_components(session, bmc.id, systems)
    return bmc


def replace_components(session: Session, bmc_id: int,
                       systems: list[DiscoveredComponent]) -> None:
    """Upsert the BMC's components from a discovery (keeps rows, and their tasks, that remain)."""
    if not systems:
        return
    rows = [{"xname": s.xname, "type": s.type, "bmc_id": bmc_id, "redfish_path": s.path,
             "reset_target": s.reset_target, "reset_parameter": s.reset_parameter,
             "allowable_values": s.allowable_values,
             "supported_transitions": [op.value for op in
                                       supported_operations(s.allowable_values)],
             "power_state": s.power_state, "capping": s.capping,
             "management_state": "available"} for s in systems]
    statement = pg_insert(Component).values(rows)
    session.execute(statement.on_conflict_do_update(
        index_elements=[Component.xname],
        set_={c: statement.excluded[c] for c in
              ("type", "bmc_id", "redfish_path", "reset_target", "reset_parameter",
               "allowable_values", "supported_transitions", "capping")}))


def update_bmc(session: Session, xname: str, credentials: CredentialStore, **changes) -> Bmc:
    """Change address, scheme, username, password, verify_tls or ca_bundle. Raises NotFound."""
    bmc = session.scalar(select(Bmc).where(Bmc.xname == xname).with_for_update())
    if bmc is None:
        raise NotFound(f"BMC {xname} is not registered")
    for key, value in changes.items():
        if key == "password":
            bmc.password_encrypted = credentials.encrypt(value)
        else:
            setattr(bmc, key, value)
    bmc.updated_at = func.now()
    return bmc


def delete_bmc(session: Session, xname: str) -> None:
    """Remove a BMC and its components. Raises NotFound, or Conflict while tasks are unfinished."""
    bmc = session.scalar(select(Bmc).where(Bmc.xname == xname).with_for_update())
    if bmc is None:
        raise NotFound(f"BMC {xname} is not registered")
    components = select(Component.id).where(Component.bmc_id == bmc.id)
    lock_components(session, session.scalars(components))
    busy = session.scalars(
        select(TransitionTask.xname).where(TransitionTask.component_id.in_(components),
                                           TransitionTask.state.in_(UNFINISHED))
        .limit(10)).all()
    if busy:
        raise Conflict(f"BMC {xname} has unfinished tasks on {' '.join(sorted(set(busy)))}")
    session.execute(delete(Component).where(Component.bmc_id == bmc.id))
    session.execute(delete(Bmc).where(Bmc.id == bmc.id))


def list_bmcs(session: Session) -> list[Bmc]:
    return list(session.scalars(select(Bmc).order_by(Bmc.xname)))


def get_bmc(session: Session, xname: str) -> Bmc:
    bmc = session.scalar(select(Bmc).where(Bmc.xname == xname))
    if bmc is None:
        raise NotFound(f"BMC {xname} is not registered")
    return bmc


def list_components(session: Session) -> list[tuple[Component, str]]:
    return list(session.execute(
        select(Component, Bmc.xname).join(Bmc, Bmc.id == Component.bmc_id)
        .order_by(Component.xname)))
