"""The TLS settings of BMC connections: one SSLContext per process for each distinct trust
configuration, shared by every connection that uses it. Building a context (loading a trust
store) costs tens of milliseconds of CPU; a connection only references one."""
from __future__ import annotations

import hashlib
import os
import ssl
import threading

from urllib3.util.ssl_ import create_urllib3_context

_contexts: dict[tuple, ssl.SSLContext] = {}
_lock = threading.Lock()


def context_for(verify_tls: bool, ca_bundle: str | None = None,
                ca_pem: str | None = None) -> ssl.SSLContext:
    """The shared context of one trust configuration: no verification only by the BMC's
    explicit opt-out; else the BMC's own CA certificates (PEM), else the configured bundle
    file (PCS_CA_BUNDLE), else the system trust store. Raises ssl.SSLError or OSError for a
    bundle or PEM that cannot be loaded."""
    if not verify_tls:
        key: tuple = ("off",)
    elif ca_pem:
        # By digest: the key must not hold the certificates' text for the life of the process.
        key = ("pem", hashlib.sha256(ca_pem.encode()).hexdigest())
    elif ca_bundle:
        key = ("bundle", ca_bundle)
    else:
        key = ("system",)
    with _lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = _build(verify_tls, ca_bundle, ca_pem)
        return context


def _build(verify_tls: bool, ca_bundle: str | None, ca_pem: str | None) -> ssl.SSLContext:
    # urllib3's defaults (TLS 1.2 or later, its cipher list), as requests used.
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if verify_tls else ssl.CERT_NONE)
    # No TLS setting comes from the environment: not a key log file (SSLKEYLOGFILE) ...
    context.keylog_filename = None
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context.check_hostname = True
    context.hostname_checks_common_name = False
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    elif ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    else:
        _load_system_store(context)
    return context


def _load_system_store(context: ssl.SSLContext) -> None:
    """... nor a trust store named by SSL_CERT_FILE / SSL_CERT_DIR: OpenSSL's own paths only
    (load_default_certs would follow those variables)."""
    paths = ssl.get_default_verify_paths()
    cafile = paths.openssl_cafile if os.path.isfile(paths.openssl_cafile or "") else None
    capath = paths.openssl_capath if os.path.isdir(paths.openssl_capath or "") else None
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
