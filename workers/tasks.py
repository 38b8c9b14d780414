"""Thin Celery tasks: an ID in, one call into pcs."""
from __future__ import annotations

from celery import shared_task

from pcs import monitor
from pcs.queue import retention, scheduler
from pcs.broker import RUN_CAP_STEPS
from pcs.capping import queue as cap_queue
from workers.runtime import runtime


@shared_task(name="pcs.run_steps", acks_late=True, ignore_result=True)
def run_steps(task_ids: list[int]) -> None:
    """Run the next step of each task, in turn; a stale or duplicate ID does nothing."""
    runtime().executor.run_steps(task_ids)


@shared_task(name="pcs.run_cap_steps", acks_late=True, ignore_result=True)
def run_cap_steps(task_ids: list[int]) -> None:
    """Run each power-cap task to its end; a stale or duplicate ID does nothing."""
    runtime().cap_executor.run_steps(task_ids)


@shared_task(name="pcs.reap", ignore_result=True)
def reap() -> None:
    """Re-send lost messages, take back tasks of dead workers, promote missed queue heads;
    expire old transitions."""
    rt = runtime()
    with rt.db.transaction() as session:
        again = scheduler.reap(session, rt.settings)
    rt.publisher.publish(again)
    with rt.db.transaction() as session:
        again = cap_queue.reap(session, rt.settings)
    rt.publisher.publish(again, task_name=RUN_CAP_STEPS)
    with rt.db.transaction() as session:
        retention.expire(session, rt.settings)
        cap_queue.expire(session, rt.settings)


@shared_task(name="pcs.sweep", ignore_result=True)
def sweep() -> None:
    """Read every component's power state from its BMC (one sweeper at a time)."""
    rt = runtime()
    monitor.sweep(rt.settings, rt.db, rt.credentials, rt.inventory, rt.state_push)
