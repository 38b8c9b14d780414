"""One settings object, read from PCS_* environment variables and upstream's names.

Every option has a default and a unit in its name where it has one. Where upstream PCS reads a
variable without the prefix (VAULT_ENABLED, SMS_SERVER, CRED_CACHE_DURATION ...), that name is
read too, and the PCS_ one wins when both are set, so an upstream deployment's environment works
unchanged and can still be overridden.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

log = logging.getLogger(__name__)

SECRET_FIELDS = {"secret_key", "vault_token", "fake_vault_password", "oauth2_client_secret"}
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# PCS_* variables that are not settings: the CLI's API address, token and BMC password for
# `inventory add`, the tests' servers.
NOT_SETTINGS = {"PCS_URL", "PCS_TOKEN", "PCS_BMC_PASSWORD"}
NOT_SETTING_PREFIXES = ("PCS_TEST_",)
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


def _env_name(f: dataclasses.Field) -> str:
    return f.metadata["env"]


def _names(f: dataclasses.Field) -> tuple[str, ...]:
    """The variables of a field, the winning one first."""
    upstream = f.metadata.get("upstream")
    return (f.metadata["env"], upstream) if upstream else (f.metadata["env"],)


def _opt(default, env: str, help: str, upstream: str | None = None,
         low: float | None = None, high: float | None = None,
         choices: tuple[str, ...] | None = None):
    """A setting read from `env`, or else from upstream's name for it. `low`/`high` bound a
    number and `choices` a word; both are checked when the setting is read at start."""
    return field(default=default, metadata={"env": env, "help": help, "upstream": upstream,
                                            "low": low, "high": high, "choices": choices})


@dataclass(frozen=True)
class Settings:
    database_url: str | None = _opt(
        None, "PCS_DATABASE_URL", "PostgreSQL URL; unset = embedded PostgreSQL under the state dir")
    broker_url: str | None = _opt(
        None, "PCS_BROKER_URL", "Redis URL of the Celery broker; unset = embedded Valkey")
    state_dir: str = _opt(".pcs", "PCS_STATE_DIR", "where embedded servers, logs and the key live")
    embedded_pg_port: int = _opt(
        28432, "PCS_EMBEDDED_PG_PORT", "port of embedded PostgreSQL", low=1, high=65535)
    embedded_broker_port: int = _opt(
        28379, "PCS_EMBEDDED_BROKER_PORT", "port of the embedded Valkey broker", low=1, high=65535)
    api_host: str = _opt("127.0.0.1", "PCS_API_HOST", "address the API binds")
    api_port: int = _opt(28007, "PCS_API_PORT", "port the API listens on", low=1, high=65535)
    api_threads: int = _opt(
        64, "PCS_API_THREADS", "gunicorn threads of the API process; each open event stream "
        "holds one, so this bounds the streams open at once", low=1, high=10000)
    flower_port: int = _opt(
        5555, "PCS_FLOWER_PORT", "port of Celery Flower (127.0.0.1)", low=1, high=65535)
    secret_key: str | None = _opt(
        None, "PCS_SECRET_KEY", "key that encrypts BMC passwords; unset = <state dir>/secret.key")
    action_timeout_s: float = _opt(
        40.0, "PCS_BASE_TRS_TASK_TIMEOUT", "seconds to wait for a BMC to answer a power action",
        low=0.1, high=3600)
    status_timeout_s: float = _opt(
        30.0, "PCS_STATUS_TIMEOUT", "seconds to wait for a BMC to answer a power-state read",
        low=0.1, high=3600)
    connect_timeout_s: float = _opt(
        5.0, "PCS_CONNECT_TIMEOUT_S", "seconds to open a connection", low=0.1, high=600)
    confirm_interval_s: float = _opt(
        1.0, "PCS_CONFIRM_INTERVAL_S", "seconds between power-state reads while confirming",
        low=0.01, high=600)
    forceoff_confirm_s: float = _opt(
        60.0, "PCS_FORCEOFF_CONFIRM_S", "seconds to confirm a ForceOff sent by Off's escalation",
        low=0.1, high=86400)
    resend_after_s: float = _opt(
        10.0, "PCS_RESEND_AFTER_S", "seconds an On or ForceOff may leave the power state unmoved "
        "before it is sent again", low=0.01, high=3600)
    resend_limit: int = _opt(
        2, "PCS_RESEND_LIMIT", "times an unmoved On or ForceOff is sent again (0 = never)",
        low=0, high=100)
    minute_s: float = _opt(
        60.0, "PCS_MINUTE_S", "length of a minute in seconds (tests only)", low=0.01, high=60)
    expire_time_mins: int = _opt(
        1440, "PCS_EXPIRE_TIME_MINS", "minutes a transition is kept", low=1, high=5256000)
    max_num_completed: int = _opt(
        20000, "PCS_MAX_NUM_COMPLETED", "finished transitions kept, oldest deleted first",
        low=1, high=10000000)
    queue_timeout_minutes: float = _opt(
        60, "PCS_QUEUE_TIMEOUT_MINUTES", "minutes a task may wait in a component's queue",
        low=0.01, high=5256000)
    max_locations: int = _opt(
        100000, "PCS_MAX_LOCATIONS", "locations accepted in one request", low=1, high=10000000)
    worker_concurrency: int = _opt(
        32, "PCS_WORKER_CONCURRENCY", "threads per worker process", low=1, high=10000)
    worker_processes: int = _opt(
        0, "PCS_WORKER_PROCESSES", "worker processes 'pcs up' starts; 0 = one per core",
        low=0, high=1024)
    dispatch_interval_s: float = _opt(
        0.2, "PCS_DISPATCH_INTERVAL_S", "seconds between dispatcher passes", low=0.01, high=60)
    max_dispatched: int = _opt(
        512, "PCS_MAX_DISPATCHED", "tasks waiting in the broker at most (bounded depth)",
        low=1, high=1000000)
    bmc_max_inflight: int = _opt(
        4, "PCS_BMC_MAX_INFLIGHT", "task steps running against one BMC at once, at most",
        low=1, high=1024)
    step_batch: int = _opt(
        64, "PCS_STEP_BATCH", "task IDs per worker message at most (their steps run in lockstep)",
        low=1, high=1000)
    step_call_threads: int = _opt(
        64, "PCS_STEP_CALL_THREADS",
        "threads per worker process for BMC calls (a batch's calls go at once)", low=1, high=4096)
    # A step may read three times (PCS_STATUS_TIMEOUT each) and send one action: keep well above.
    lease_s: float = _opt(
        300.0, "PCS_LEASE_S", "seconds a running step may take before the reaper takes it back",
        low=1, high=86400)
    redispatch_after_s: float = _opt(
        60.0, "PCS_REDISPATCH_AFTER_S", "seconds a dispatched message may wait before re-sending",
        low=1, high=86400)
    reap_interval_s: float = _opt(
        15.0, "PCS_REAP_INTERVAL_S", "seconds between reaper runs", low=0.1, high=3600)
    power_sample_interval_s: float = _opt(
        30.0, "PCS_POWER_SAMPLE_INTERVAL", "seconds between power-status sweeps of every BMC",
        low=1, high=86400)
    status_sweep_concurrency: int = _opt(
        64, "PCS_STATUS_SWEEP_CONCURRENCY", "BMCs read at once by a power-status sweep",
        low=1, high=10000)
    ca_bundle: str | None = _opt(None, "PCS_CA_BUNDLE", "CA bundle for https BMCs (default: system)")
    queue_name: str = _opt("pcs", "PCS_QUEUE_NAME", "Celery queue the workers consume")
    log_level: str = _opt("INFO", "PCS_LOG_LEVEL", "log level of every process",
                          choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    log_format: str = _opt(
        "text", "PCS_LOG_FORMAT", "log lines as 'text' (for a terminal) or 'json' (one object "
        "per line, for log shippers)", choices=("text", "json"))
    metrics_dir: str | None = _opt(
        None, "PCS_METRICS_DIR", "directory where every process of a host keeps its Prometheus "
        "metrics, so that the API's /metrics covers them all; unset = the API's own only "
        "('pcs up' uses <state dir>/metrics)", upstream="PROMETHEUS_MULTIPROC_DIR")
    # Sources (DESIGN.md "Sources"; INTEGRATION.md for the upstream names and defaults)
    sms_server: str | None = _opt(
        None, "PCS_SMS_SERVER", "URL of SMD (HSM); set = components come from SMD, unset = the "
        "registration API", upstream="SMS_SERVER")
    hsmlock_enabled: bool = _opt(
        True, "PCS_HSMLOCK_ENABLED", "take SMD service reservations for the components a task "
        "acts on (smd mode only)", upstream="HSMLOCK_ENABLED")
    smd_timeout_s: float = _opt(
        40.0, "PCS_SMD_TIMEOUT_S", "seconds to wait for one SMD call", low=0.1, high=3600)
    oauth2_client_id: str | None = _opt(
        None, "PCS_OAUTH2_CLIENT_ID", "OAuth2 client credentials for SMD calls: the client ID "
        "(all four OAUTH2_* settings, or none)", upstream="OAUTH2_CLIENT_ID")
    oauth2_client_secret: str | None = _opt(
        None, "PCS_OAUTH2_CLIENT_SECRET", "the OAuth2 client secret",
        upstream="OAUTH2_CLIENT_SECRET")
    oauth2_token_url: str | None = _opt(
        None, "PCS_OAUTH2_TOKEN_URL", "where the OAuth2 token is asked for",
        upstream="OAUTH2_TOKEN_URL")
    oauth2_scopes: str | None = _opt(
        None, "PCS_OAUTH2_SCOPES", "OAuth2 scopes, comma-separated", upstream="OAUTH2_SCOPES")
    bmc_scheme: str = _opt(
        "https", "PCS_BMC_SCHEME", "scheme of BMC URLs built from SMD (http for emulators)")
    bmc_verify_tls: bool = _opt(
        True, "PCS_BMC_VERIFY_TLS", "verify the certificates of BMCs read from SMD (false "
        "reproduces upstream's unverified TLS; logged at start)")
    vault_enabled: bool | None = _opt(
        None, "PCS_VAULT_ENABLED", "BMC credentials from Vault; unset = on only when "
        "SMS_SERVER is set (else the encrypted local store)", upstream="VAULT_ENABLED")
    vault_addr: str = _opt("https://127.0.0.1:8200", "PCS_VAULT_ADDR", "URL of Vault",
                           upstream="VAULT_ADDR")
    vault_token: str | None = _opt(
        None, "PCS_VAULT_TOKEN", "Vault token; with the JWT file, the token the login is sent "
        "with", upstream="VAULT_TOKEN")
    vault_keypath: str = _opt(
        "secret/hms-creds", "PCS_VAULT_KEYPATH", "Vault KV version 1 path of the BMC "
        "credentials, one secret per BMC xname under it", upstream="VAULT_KEYPATH")
    vault_skip_verify: bool = _opt(
        False, "PCS_VAULT_SKIP_VERIFY", "do not verify Vault's TLS certificate",
        upstream="VAULT_SKIP_VERIFY")
    vault_cacert: str | None = _opt(
        None, "PCS_VAULT_CACERT", "CA bundle that verifies Vault (default: system)",
        upstream="VAULT_CACERT")
    vault_auth_path: str = _opt(
        "auth/kubernetes/login", "PCS_CRAY_VAULT_AUTH_PATH", "Vault path the login is sent to",
        upstream="CRAY_VAULT_AUTH_PATH")
    vault_jwt_file: str = _opt(
        f"{SERVICE_ACCOUNT_DIR}/token", "PCS_CRAY_VAULT_JWT_FILE", "file holding the JWT of "
        "the Vault login; absent = VAULT_TOKEN is used as it is", upstream="CRAY_VAULT_JWT_FILE")
    vault_role_file: str = _opt(
        f"{SERVICE_ACCOUNT_DIR}/namespace", "PCS_CRAY_VAULT_ROLE_FILE", "file holding the role "
        "of the Vault login", upstream="CRAY_VAULT_ROLE_FILE")
    vault_timeout_s: float = _opt(
        10.0, "PCS_VAULT_TIMEOUT_S", "seconds to wait for Vault to answer one request",
        low=0.1, high=3600)
    cred_cache_duration_s: int = _opt(
        600, "PCS_CRED_CACHE_DURATION", "seconds a worker keeps a BMC's credentials read from "
        "Vault (missing ones too); a BMC answering 401 has them read again",
        upstream="CRED_CACHE_DURATION", low=0, high=2592000)
    fake_vault_enabled: bool = _opt(
        False, "PCS_FAKE_VAULT_ENABLED", "every BMC gets the one username and password below "
        "(tests and demos)", upstream="FAKE_VAULT_ENABLED")
    fake_vault_user: str | None = _opt(
        None, "PCS_FAKE_VAULT_REDFISH_USER", "username of every BMC with FAKE_VAULT_ENABLED")
    fake_vault_password: str | None = _opt(
        None, "PCS_FAKE_VAULT_REDFISH_PASSWORD", "password of every BMC with FAKE_VAULT_ENABLED")
    jwks_url: str | None = _opt(
        None, "PCS_JWKS_URL", "URL of the JSON Web Key Set that signs bearer tokens; set = "
        "every route but the probes needs a token", upstream="JWKS_URL")
    jwks_refresh_s: float = _opt(
        300.0, "PCS_JWKS_REFRESH_S", "seconds between fetches of the JWKS (and at most once "
        "per 10 s on a token whose key is unknown)", low=10, high=86400)
    jwt_audience: str | None = _opt(
        None, "PCS_JWT_AUDIENCE", "audience a token's aud must name (unset = any)")
    jwt_issuer: str | None = _opt(
        None, "PCS_JWT_ISSUER", "issuer a token's iss must be (unset = any)")
    roles_claim: str | None = _opt(
        None, "PCS_ROLES_CLAIM", "claim holding a token's roles, dotted for nested claims "
        "(realm_access.roles); unset = any valid token may do everything")
    read_role: str = _opt(
        "pcs-read", "PCS_READ_ROLE", "role that may read: GETs, power-status, snapshots, "
        "event streams")
    operator_role: str = _opt(
        "pcs-operator", "PCS_OPERATOR_ROLE", "role that may do everything (implies read)")
    auth_disabled: bool = _opt(
        False, "PCS_AUTH_DISABLED", "true = serve without authentication on a non-loopback "
        "address (a warning at every start)")
    max_body_bytes: int = _opt(
        16 * 1024 * 1024, "PCS_MAX_BODY_BYTES", "bytes of a request body at most (413 above)",
        low=1024, high=1024 ** 3)
    max_streams: int = _opt(
        0, "PCS_MAX_STREAMS", "event streams open at once per API process; 0 = the API "
        "threads less a quarter (at least 4) kept for other requests", low=0, high=10000)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Read every setting, its PCS_ name before upstream's; raises ValueError naming a
        variable that does not parse."""
        env = os.environ if env is None else env
        values = {}
        for f in dataclasses.fields(cls):
            for name in _names(f):
                raw = env.get(name)
                if raw is not None and raw != "":
                    values[f.name] = _checked(f, name, _parse(f, name, raw))
                    break
        values.update(overrides)
        for warning in unknown_variables(env):
            log.warning("%s", warning)
        return cls(**values)

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url

    @property
    def step_lease_s(self) -> float:
        """How long a claimed step may run before the reaper takes it back: PCS_LEASE_S, but
        never less than the longest step can take (three reads and one action, timed out),
        so that a slow but live worker is never doubled."""
        longest = 3 * (self.connect_timeout_s + self.status_timeout_s) + (
            self.connect_timeout_s + self.action_timeout_s)
        return max(self.lease_s, longest + 5.0)

    @property
    def inventory_source(self) -> str:
        """'smd' when SMS_SERVER names SMD, else 'local' (the registration API)."""
        return "smd" if self.sms_server else "local"

    @property
    def credential_source(self) -> str:
        """'fake', 'vault' or 'local'. Vault is upstream's default only with SMD, whose BMC
        records carry no passwords; the local store is the default otherwise."""
        if self.fake_vault_enabled:
            return "fake"
        enabled = self.vault_enabled
        if enabled is None:
            enabled = self.inventory_source == "smd"
        return "vault" if enabled else "local"

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).resolve()

    def described(self) -> list[tuple[str, str, str]]:
        """(variable, effective value, help) for each option; secrets masked."""
        rows = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                shown = "********"
            elif value is None:
                shown = "(unset)"
            else:
                shown = mask_url_password(str(value)) if f.name.endswith("_url") else str(value)
            upstream = f.metadata.get("upstream")
            meaning = f.metadata["help"] + (f" (also {upstream})" if upstream else "")
            rows.append((_env_name(f), shown, meaning))
        return rows

    def as_env(self) -> dict[str, str]:
        """The PCS_* variables that reproduce these settings in a child process."""
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                env[_env_name(f)] = str(value)
        return env


def _checked(f: dataclasses.Field, name: str, value):
    """The value when it is within the field's bounds or choices; else ValueError naming the
    variable (PCS_BMC_MAX_INFLIGHT=0 would stop every dispatch without a word)."""
    low, high, choices = f.metadata["low"], f.metadata["high"], f.metadata["choices"]
    if choices is not None:
        matched = [c for c in choices if c.lower() == str(value).lower()]
        if not matched:
            raise ValueError(f"{name}={value!r} is not one of {', '.join(choices)}")
        return matched[0]
    if low is not None and value < low:
        raise ValueError(f"{name}={value:g} is below its least sensible value, {low:g}")
    if high is not None and value > high:
        raise ValueError(f"{name}={value:g} is above its greatest sensible value, {high:g}")
    return value


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """A warning for each PCS_* variable that no setting reads, naming the closest one (a typo
    would otherwise leave the default in force without a word)."""
    known = {name for f in dataclasses.fields(Settings) for name in _names(f)}
    settable = sorted(n for n in known if n.startswith("PCS_"))
    out = []
    for name in sorted(env):
        if (not name.startswith("PCS_") or name in known or name in NOT_SETTINGS
                or name.startswith(NOT_SETTING_PREFIXES)):
            continue
        close = difflib.get_close_matches(name, settable, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else " ('pcs config' lists the settings)"
        out.append(f"{name} is not a pcs setting and is ignored{hint}")
    return out


def _parse(f: dataclasses.Field, name: str, raw: str):
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind.startswith("bool"):
        word = raw.strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(f"{name}={raw!r} is not a boolean: use true or false (1/0, yes/no)")
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    return raw


def mask_url_password(url: str) -> str:
    """postgresql://u:secret@h/db -> postgresql://u:***@h/db"""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"
