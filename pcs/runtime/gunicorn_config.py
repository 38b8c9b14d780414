"""gunicorn's configuration for the API (`gunicorn -c python:pcs.runtime.gunicorn_config ...`): the
settings' address, threads and logging, and the metrics of a gunicorn worker that ends.
Command-line options still win over these."""
from __future__ import annotations

from pcs import metrics
from pcs.config import Settings
from pcs.runtime.logs import configure_logging, logging_dict

settings = Settings.from_env()
configure_logging(settings.log_level, settings.log_format, process="api")

bind = f"{settings.api_host}:{settings.api_port}"
worker_class = "gthread"
threads = settings.api_threads
timeout = 120
# Open event streams keep a request running: they get this long to end on a stop, and compose's
# stop_grace_period is longer.
graceful_timeout = 30
logconfig_dict = logging_dict(settings.log_level, settings.log_format)
accesslog = None   # the app writes the access log itself, with route and request ID


def child_exit(server, worker) -> None:
    metrics.forget_process(worker.pid)
