"""The Flask app factory. Every v1 route answers at /, /v1/ and the gateway prefix."""
from __future__ import annotations

from flask import Flask

from pcs.api import (auth, body, events, inventory, locks, observe, openapi, power_cap,
                     power_status, queue, scrape, service, transitions)
from pcs.api.errors import register_error_handlers
from pcs.api.services import Services
from pcs.broker import Publisher
from pcs.config import Settings
from pcs.db import Database
from pcs.errors import ConfigurationError
from pcs.events import publish_after_commit
from pcs.runtime.logs import configure_logging
from pcs.sources.reservations import reservation_source
from pcs.sources.inventory import inventory_source

V1_PREFIXES = ("", "/v1", "/apis/power-control/v1")
ADDED_PREFIXES = ("/v1", "/apis/power-control/v1")   # this service's additions


def create_app(settings: Settings | None = None) -> Flask:
    """The API, its inventory and reservation sources chosen by the settings."""
    settings = settings or Settings.from_env()
    if not settings.database_url or not settings.broker_url:
        raise ConfigurationError("the API needs PCS_DATABASE_URL and PCS_BROKER_URL "
                                 "('pcs up' sets both for its embedded servers)")
    configure_logging(settings.log_level, settings.log_format, process="api")
    app = Flask("pcs")
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    body.install(app, settings)   # size, Origin and type first: they need no key
    auth.install(app, settings)
    # Event streams hold a thread each but a connection only while they read: the pool need
    # not grow with the thread count.
    database = Database(settings.database_url, pool_size=min(settings.api_threads, 16),
                        role="api")
    publish_after_commit(database, settings)
    app.extensions["pcs"] = Services(settings, database, Publisher(settings),
                                     reservation_source(settings),
                                     inventory_source(settings))
    if settings.credential_source != "local":
        # Refuse to start on an incomplete Vault or fake-store configuration (the local
        # store's key is needed only once a BMC is registered).
        app.extensions["pcs"].credential_source
    app.extensions["pcs.openapi"] = openapi.build(settings, V1_PREFIXES, ADDED_PREFIXES)
    for blueprint, prefixes in ((transitions.bp, V1_PREFIXES), (service.bp, V1_PREFIXES),
                                (openapi.bp, V1_PREFIXES),
                                (power_cap.bp, V1_PREFIXES), (power_status.bp, V1_PREFIXES),
                                (power_cap.added_bp, ADDED_PREFIXES),
                                (inventory.bp, ADDED_PREFIXES),
                                (queue.bp, ADDED_PREFIXES), (locks.bp, ADDED_PREFIXES),
                                (events.bp, ADDED_PREFIXES)):
        for i, prefix in enumerate(prefixes):
            app.register_blueprint(blueprint, url_prefix=prefix or None,
                                   name=f"{blueprint.name}_{i}")
    app.register_blueprint(scrape.bp)   # /metrics, where Prometheus looks
    observe.install(app)
    register_error_handlers(app)
    return app
