"""The Celery app of the worker, beat and Flower processes: `celery -A workers.celery_app ...`."""
from __future__ import annotations

import logging
import sys

from celery import signals

from pcs.broker import make_celery
from pcs.config import Settings
from pcs.errors import ConfigurationError
from pcs.runtime.logs import configure_logging
from workers.runtime import runtime

settings = Settings.from_env()
# The same module serves `celery worker`, `beat` and `flower`: the subcommand names the process.
configure_logging(settings.log_level, settings.log_format,
                  process=next((a for a in sys.argv if a in ("worker", "beat", "flower")),
                               "celery"))
if settings.log_format == "json":
    import celery.apps.worker
    # The worker prints its shutdown notices ("worker: Warm shutdown") instead of logging them.
    celery.apps.worker.safe_say = lambda message, f=None: logging.getLogger(
        "celery.apps.worker").warning("%s", message.strip())
app = make_celery(settings)
app.conf.include = ["workers.tasks"]

log = logging.getLogger(__name__)


@signals.worker_init.connect
def get_credentials_ready(sender=None, **_):
    # Before the worker consumes: with Vault, log in first (and wait until it accepts), so
    # that the first steps do not all fail on a Vault that is still starting.
    try:
        runtime().credentials.start()
        runtime().inventory   # a partial OAuth2 configuration for SMD refuses to start too
    except ConfigurationError as exc:
        # Celery logs and ignores a receiver's Exception; a worker without credentials must
        # not start taking tasks it can only fail.
        log.critical("cannot start: %s", exc)
        raise SystemExit(f"pcs worker: {exc}") from None


@signals.worker_ready.connect
def start_dispatcher(sender=None, **_):
    runtime().start_dispatcher()


@signals.worker_shutdown.connect
def stop_dispatcher(sender=None, **_):
    runtime().stop_dispatcher()
