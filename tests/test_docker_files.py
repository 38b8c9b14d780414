"""Static checks of docker/Dockerfile, docker/compose.yaml and .dockerignore.

No Docker engine is needed: the files are parsed and what they name (modules, console scripts,
paths, settings) is checked against the project itself.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from pcs.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"

INFRA_SERVICES = {"postgres", "redis"}
PCS_SERVICES = {"migrate", "api", "worker", "beat", "flower"}
AFTER_MIGRATE = {"api", "worker", "beat", "flower"}
REQUIRED_ENV = {"PCS_DATABASE_URL", "PCS_BROKER_URL", "PCS_SECRET_KEY"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            out.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def _command(service: dict) -> list[str]:
    command = service["command"]
    return list(command) if isinstance(command, list) else shlex.split(command)


def _requirement_names(pyproject: dict) -> set[str]:
    names = set()
    for req in pyproject["project"]["dependencies"]:
        names.add(re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower())
    return names


def _module_defines(module: str, name: str) -> bool:
    """Whether a module's source assigns or defines `name` at top level (without importing it)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"module {module} does not exist"
    tree = ast.parse(Path(spec.origin).read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return True
    return False


# --- compose.yaml -----------------------------------------------------------------------------

def test_compose_declares_the_seven_services(services):
    assert set(services) == INFRA_SERVICES | PCS_SERVICES


def test_every_pcs_service_gets_database_broker_and_secret(services):
    for name in PCS_SERVICES:
        env = services[name].get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment should be a mapping"
        missing = REQUIRED_ENV - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["PCS_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:" in env["PCS_DATABASE_URL"], "database URL must name the postgres service"
        assert env["PCS_BROKER_URL"].startswith("redis://redis:"), "broker must be the redis service"


def test_pcs_services_share_one_environment_so_the_secret_agrees(services):
    # The API encrypts BMC passwords with PCS_SECRET_KEY; the workers must decrypt with the same.
    envs = [services[name]["environment"] for name in sorted(PCS_SERVICES)]
    assert all(env == envs[0] for env in envs), "pcs services have differing environments"


def test_secret_key_is_required_and_not_hard_coded(services):
    value = services["api"]["environment"]["PCS_SECRET_KEY"]
    assert re.fullmatch(r"\$\{PCS_SECRET_KEY:\?[^}]+\}", value), value


def test_compose_env_names_are_real_pcs_settings(services):
    known = {f.metadata["env"] for f in dataclasses.fields(Settings)}
    for name in PCS_SERVICES:
        unknown = {k for k in services[name]["environment"] if k.startswith("PCS_")} - known
        assert not unknown, f"{name} sets unknown settings {sorted(unknown)}"


def test_published_ports_bind_loopback_only(services):
    published = 0
    for name, service in services.items():
        for port in service.get("ports", []):
            published += 1
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
            assert host_ip == "127.0.0.1", f"{name} publishes {port!r} beyond loopback"
    assert published >= 2, "api and flower should publish their ports"


def test_api_and_flower_publish_the_configured_ports(services):
    defaults = Settings()
    assert f"127.0.0.1:{defaults.api_port}:{defaults.api_port}" in services["api"]["ports"]
    assert f"127.0.0.1:{defaults.flower_port}:{defaults.flower_port}" in services["flower"]["ports"]


def test_services_start_after_migrate_completed_successfully(services):
    for name in AFTER_MIGRATE:
        depends = services[name].get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        assert depends.get("migrate", {}).get("condition") == "service_completed_successfully", name


def test_migrate_waits_for_healthy_postgres_and_runs_once(services):
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"
    assert _command(migrate)[-1].endswith("exec pcs migrate")


def test_api_and_workers_wait_for_healthy_redis(services):
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_infrastructure_has_healthchecks_and_named_volumes(compose, services):
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert "valkey-cli" in str(services["redis"]["healthcheck"]["test"])
    assert "ping" in str(services["redis"]["healthcheck"]["test"])
    assert "--appendonly yes" in services["redis"]["command"]
    declared = set(compose.get("volumes") or {})
    for name in INFRA_SERVICES:
        volumes = services[name].get("volumes") or []
        sources = {str(v).split(":", 1)[0] for v in volumes}
        assert sources & declared, f"{name} has no named volume"


def test_pcs_services_build_the_repository_dockerfile(services):
    for name in PCS_SERVICES:
        build = services[name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT, f"{name}: build context should be the repository root"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name


# --- what the commands name exists ------------------------------------------------------------

def test_pcs_console_script_is_declared(pyproject):
    scripts = pyproject["project"].get("scripts", {})
    assert "pcs" in scripts, "compose runs `pcs migrate` but pyproject declares no `pcs` script"
    module, _, attr = scripts["pcs"].partition(":")
    assert attr, f"entry point {scripts['pcs']!r} names no callable"
    # The CLI module itself may be written concurrently; its package must exist.
    parent = module.rpartition(".")[0]
    assert importlib.util.find_spec(parent) is not None, f"package {parent} does not exist"


def test_gunicorn_target_is_the_flask_app_factory(services, pyproject):
    argv = _command(services["api"])
    assert argv[0] == "gunicorn" and "gunicorn" in _requirement_names(pyproject)
    target = argv[-1]
    module, _, call = target.partition(":")
    assert call.endswith("()"), f"{target} should call the app factory"
    factory = getattr(importlib.import_module(module), call[:-2], None)
    assert callable(factory), f"{module} has no {call[:-2]}"
    bind = argv[argv.index("--bind") + 1]
    assert bind == f"0.0.0.0:{Settings().api_port}"


@pytest.mark.parametrize("name", ["worker", "beat", "flower"])
def test_celery_commands_name_the_real_celery_app(services, pyproject, name):
    argv = _command(services[name])
    assert argv[0] == "celery" and "celery" in _requirement_names(pyproject)
    app_module = argv[argv.index("-A") + 1]
    assert importlib.util.find_spec(app_module) is not None, f"{app_module} does not exist"
    assert _module_defines(app_module, "app"), f"{app_module} defines no `app` for celery -A"
    subcommand = argv[argv.index("-A") + 2]
    assert subcommand == name
    if name == "flower":
        assert "flower" in _requirement_names(pyproject)


def test_worker_consumes_the_queue_pcs_publishes_to(services):
    argv = _command(services["worker"])
    assert argv[argv.index("--pool") + 1] == "threads"
    # The same variable, with the same default, sets the queue of every process and the
    # worker's -Q: a cell with its own PCS_QUEUE_NAME consumes what it publishes.
    for flag, variable in (("-Q", "PCS_QUEUE_NAME"), ("--concurrency", "PCS_WORKER_CONCURRENCY"),
                           ("--loglevel", "PCS_LOG_LEVEL")):
        expected = f"${{{variable}:-{_default(variable)}}}"
        assert argv[argv.index(flag) + 1] == expected, flag
        assert services["worker"]["environment"][variable] == expected, variable


@pytest.mark.parametrize("cell_env", [{}, {"PCS_QUEUE_NAME": "cell-x3000",
                                           "PCS_WORKER_CONCURRENCY": "8"}])
def test_an_interpolated_worker_reads_the_queue_its_settings_name(services, cell_env):
    worker = services["worker"]
    cell_env = {"FLOWER_BASIC_AUTH": "pcs:flower-password", **cell_env}   # required, no default
    argv = [_interpolate(a, cell_env) for a in _command(worker)]
    env = {k: _interpolate(str(v), cell_env) for k, v in worker["environment"].items()
           if k not in ("PCS_SECRET_KEY", "FLOWER_BASIC_AUTH")}
    settings = Settings.from_env(env)
    assert argv[argv.index("-Q") + 1] == settings.queue_name
    assert int(argv[argv.index("--concurrency") + 1]) == settings.worker_concurrency


def test_every_variable_compose_reads_is_a_setting(compose):
    known = {name for f in dataclasses.fields(Settings)
             for name in (f.metadata["env"], f.metadata.get("upstream")) if name}
    known |= {"FLOWER_BASIC_AUTH"}   # Flower's own: its user:password
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert used and used <= known, sorted(used - known)


def test_every_service_has_a_healthcheck_and_pcs_ones_a_stop_grace(services):
    for name, service in services.items():
        if name == "migrate":
            continue   # a job: the others wait for it to complete, not to be healthy
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in PCS_SERVICES - {"migrate"}:
        assert _seconds(services[name]["stop_grace_period"]) > 0, name


def test_stop_grace_periods_outlast_the_processes_own_drains(services):
    from pcs.runtime import gunicorn_config
    assert _seconds(services["api"]["stop_grace_period"]) > gunicorn_config.graceful_timeout
    # A warm worker shutdown waits for its running steps; the longest one, timed out:
    s = Settings()
    longest_step = 3 * (s.connect_timeout_s + s.status_timeout_s) + (
        s.connect_timeout_s + s.action_timeout_s)
    assert _seconds(services["worker"]["stop_grace_period"]) > longest_step


def test_healthchecks_probe_the_ports_and_names_the_commands_use(services):
    defaults = Settings()
    assert f"127.0.0.1:{defaults.api_port}/readiness" in str(services["api"]["healthcheck"])
    assert f"127.0.0.1:{defaults.flower_port}/healthcheck" in str(
        services["flower"]["healthcheck"])
    worker = _command(services["worker"])
    node = worker[worker.index("-n") + 1].replace("%h", "$$HOSTNAME")
    assert f"-d {node}" in str(services["worker"]["healthcheck"]["test"])
    beat = _command(services["beat"])
    assert beat[beat.index("--schedule") + 1] in str(services["beat"]["healthcheck"]["test"])


def test_the_broker_is_valkey_as_embedded(services):
    assert services["redis"]["image"].startswith("valkey/valkey:")


def test_api_worker_and_beat_share_the_metrics_volume(compose, services):
    directory = services["api"]["environment"]["PCS_METRICS_DIR"]
    assert "metrics" in (compose.get("volumes") or {})
    for name in ("api", "worker", "beat", "migrate"):
        assert f"metrics:{directory}" in services[name]["volumes"], name


def _default(variable: str):
    field = next(f for f in dataclasses.fields(Settings) if f.metadata["env"] == variable)
    return field.default


def _interpolate(text: str, env: dict) -> str:
    """Compose's ${VAR:-default} and ${VAR:?message}, as `docker compose` expands them."""
    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        assert op != ":?", f"{name} is required"
        return rest or ""
    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, text).replace("$$", "$")


def _seconds(duration: str) -> float:
    """Compose durations: 45s, 3m, 1m30s."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", str(duration))
    assert parts, duration
    return sum(float(n) * units[u] for n, u in parts)


# --- Dockerfile -------------------------------------------------------------------------------

def test_dockerfile_uses_python_311_slim():
    froms = [args for kw, args in _instructions() if kw == "FROM"]
    assert froms and froms[0].split()[0] == "python:3.11-slim"


def test_dockerfile_copy_sources_exist_in_repository():
    copies = [args for kw, args in _instructions() if kw in ("COPY", "ADD")]
    assert copies, "Dockerfile copies nothing"
    copied = set()
    for args in copies:
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        assert len(parts) >= 2, f"COPY {args} lacks a source or destination"
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY source {source} is not in the repository"
            copied.add(source.rstrip("/"))
    assert {"pyproject.toml", "alembic.ini", "pcs", "workers", "migrations"} <= copied


def test_dockerfile_does_not_run_as_root():
    users = [args.split()[0] for kw, args in _instructions() if kw == "USER"]
    assert users, "Dockerfile has no USER line: the processes would run as root"
    final = users[-1].split(":")[0]
    assert final not in ("root", "0")


def test_dependencies_install_pinned_before_the_code_is_copied():
    instructions = _instructions()
    install = next(i for i, (kw, args) in enumerate(instructions)
                   if kw == "RUN" and "-c /app/constraints.txt" in args)
    first_code = min(i for i, (kw, args) in enumerate(instructions)
                     if kw == "COPY" and args.split()[0] in ("pcs/", "workers/", "migrations/"))
    assert install < first_code, "a code change would invalidate the dependency layer"
    copies_before = " ".join(args for kw, args in instructions[:install] if kw == "COPY")
    assert "docker/constraints.txt" in copies_before and "pyproject.toml" in copies_before


def test_constraints_pin_every_runtime_dependency(pyproject):
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    pins = {}
    for line in (DOCKER / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    for dependency in pyproject["project"]["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {requirement.specifier}")


def test_dockerfile_installs_the_project_editable():
    runs = [args for kw, args in _instructions() if kw == "RUN"]
    assert any(re.search(r"pip install\b.*\s-e\s+/app\b", run) for run in runs), runs
    install_at = next(i for i, (kw, args) in enumerate(_instructions())
                      if kw == "RUN" and "pip install" in args)
    user_at = max(i for i, (kw, _) in enumerate(_instructions()) if kw == "USER")
    assert install_at < user_at, "install as root before switching to the pcs user"


def test_dockerfile_exposes_api_and_flower_ports_and_defaults_to_help():
    instructions = _instructions()
    exposed = {p for kw, args in instructions if kw == "EXPOSE" for p in args.split()}
    defaults = Settings()
    assert {str(defaults.api_port), str(defaults.flower_port)} <= exposed
    cmd = [args for kw, args in instructions if kw == "CMD"][-1]
    assert yaml.safe_load(cmd) == ["pcs", "--help"]


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    lines = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".venv", ".pcs", ".git", ".pytest_cache"):
        assert entry in lines, f".dockerignore does not exclude {entry}"
    assert any("__pycache__" in line for line in lines)
    for needed in ("pcs", "workers", "migrations", "pyproject.toml", "alembic.ini"):
        assert needed not in lines, f".dockerignore excludes {needed}, which the image needs"


def test_flower_needs_a_password_and_the_api_an_authentication_choice(services):
    env = services["flower"]["environment"]
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?[^}]+\}", env["FLOWER_BASIC_AUTH"])
    api = services["api"]["environment"]
    assert api["JWKS_URL"] == "${JWKS_URL:-}"
    assert api["PCS_AUTH_DISABLED"] == "${PCS_AUTH_DISABLED:-false}"


# --- Grafana dashboard ------------------------------------------------------------------------

def _exported_metric_names() -> set[str]:
    """Sample names pcs exports: the metrics module's, and the figures /metrics reads from the
    database at scrape time."""
    from prometheus_client.metrics import MetricWrapperBase

    from pcs import metrics
    names = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.name.startswith("pcs_"):
                suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                            "gauge": ("",)}[family.type]
                names |= {family.name + suffix for suffix in suffixes}
    scrape = (ROOT / "pcs" / "api" / "scrape.py").read_text()
    names |= set(re.findall(r'GaugeMetricFamily\(\s*"(pcs_\w+)"', scrape))
    return names


def test_grafana_dashboard_queries_only_metrics_pcs_exports():
    import json
    dashboard = json.loads((DOCKER / "grafana-dashboard.json").read_text())
    exported = _exported_metric_names()
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\bpcs_\w+", target["expr"])}
    assert used and used <= exported, sorted(used - exported)
    # Every metric shows somewhere on the dashboard.
    def base(name: str) -> str:
        return re.sub(r"_(bucket|sum|count)$", "", name)
    assert {base(n) for n in exported} <= {base(n) for n in used}
