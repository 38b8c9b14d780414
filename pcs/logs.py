"""Logging set-up shared by every process. Log lines never carry credentials."""
from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # urllib3 logs request lines (never auth headers) at DEBUG only; keep it quiet anyway.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
