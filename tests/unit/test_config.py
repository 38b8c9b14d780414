"""Unit tests for pcs.config.Settings (PCS_* environment variables)."""
import pytest

from pcs.config import Settings, mask_url_password


def test_from_env_reads_values_with_their_types():
    s = Settings.from_env({
        "PCS_API_PORT": "8080", "PCS_MINUTE_S": "0.5", "PCS_API_HOST": "0.0.0.0",
        "PCS_EXPIRE_TIME_MINS": "10", "PCS_FORCEOFF_CONFIRM_S": "7",
        "PCS_DATABASE_URL": "postgresql://u:p@h/db", "PCS_MAX_LOCATIONS": "5",
    })
    assert s.api_port == 8080 and type(s.api_port) is int
    assert s.minute_s == 0.5 and type(s.minute_s) is float
    assert s.forceoff_confirm_s == 7.0 and type(s.forceoff_confirm_s) is float
    assert s.expire_time_mins == 10 and type(s.expire_time_mins) is int
    assert s.max_locations == 5
    assert s.api_host == "0.0.0.0"
    assert s.database_url == "postgresql://u:p@h/db"
    assert not s.embedded_database


@pytest.mark.parametrize("field, expected", [
    ("api_port", 28007),                 # API.md: default port 28007
    ("api_host", "127.0.0.1"),           # bound to 127.0.0.1 unless configured otherwise
    ("forceoff_confirm_s", 60.0),        # PCS_FORCEOFF_CONFIRM_S, 60
    ("expire_time_mins", 24 * 60),       # records expire 24 h after creation
    ("max_num_completed", 20000),
    ("max_locations", 100000),
    ("minute_s", 60.0),
    ("database_url", None),
    ("broker_url", None),
    ("secret_key", None),
])
def test_defaults(field, expected):
    assert getattr(Settings.from_env({}), field) == expected


def test_empty_values_keep_the_defaults():
    s = Settings.from_env({"PCS_API_PORT": "", "PCS_DATABASE_URL": ""})
    assert s.api_port == 28007
    assert s.database_url is None and s.embedded_database


def test_unrelated_variables_are_ignored():
    s = Settings.from_env({"API_PORT": "1", "PCS_NO_SUCH_OPTION": "x"})
    assert s == Settings()


def test_overrides_win_over_the_environment():
    assert Settings.from_env({"PCS_API_PORT": "8080"}, api_port=9090).api_port == 9090


def test_from_env_without_a_mapping_reads_os_environ(monkeypatch):
    monkeypatch.setenv("PCS_API_PORT", "12345")
    monkeypatch.setenv("PCS_MINUTE_S", "2")
    s = Settings.from_env()
    assert s.api_port == 12345 and s.minute_s == 2.0


@pytest.mark.parametrize("variable, raw", [
    ("PCS_API_PORT", "abc"),
    ("PCS_API_PORT", "80.5"),
    ("PCS_MINUTE_S", "fast"),
    ("PCS_MAX_NUM_COMPLETED", "1e3x"),
    ("PCS_CONFIRM_INTERVAL_S", "1,5"),
])
def test_a_bad_number_raises_value_error_naming_the_variable(variable, raw):
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: raw})


def _described(settings):
    return {name: shown for name, shown, _help in settings.described()}


def test_described_lists_every_option_with_help():
    rows = Settings().described()
    assert len(rows) == len({name for name, _, _ in rows})
    assert all(name.startswith("PCS_") and help_text for name, _, help_text in rows)
    assert _described(Settings())["PCS_API_PORT"] == "28007"


def test_described_masks_the_secret_key():
    shown = _described(Settings.from_env({"PCS_SECRET_KEY": "s3cr3t-key-value"}))
    assert shown["PCS_SECRET_KEY"] == "********"
    assert not any("s3cr3t" in value for value in shown.values())


def test_described_shows_unset_secret_key_as_unset():
    assert _described(Settings())["PCS_SECRET_KEY"] == "(unset)"


@pytest.mark.parametrize("url, shown", [
    ("postgresql://pcs:hunter2@db.example:5432/pcs", "postgresql://pcs:***@db.example:5432/pcs"),
    ("postgresql+psycopg://pcs:p@ss:w0rd@db/pcs", "postgresql+psycopg://pcs:***@db/pcs"),
    ("postgresql://pcs@db/pcs", "postgresql://pcs@db/pcs"),
    ("postgresql://db/pcs", "postgresql://db/pcs"),
])
def test_described_masks_a_password_inside_the_database_url(url, shown):
    described = _described(Settings.from_env({"PCS_DATABASE_URL": url}))
    assert described["PCS_DATABASE_URL"] == shown
    for secret in ("hunter2", "p@ss:w0rd", "w0rd"):
        assert secret not in described["PCS_DATABASE_URL"]


def test_described_masks_a_password_inside_the_broker_url():
    described = _described(Settings.from_env({"PCS_BROKER_URL": "redis://:valkeypw@h:6379/0"}))
    assert described["PCS_BROKER_URL"] == "redis://:***@h:6379/0"


@pytest.mark.parametrize("url, masked", [
    ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
    ("not a url", "not a url"),
    ("user@host", "user@host"),
])
def test_mask_url_password(url, masked):
    assert mask_url_password(url) == masked


def test_as_env_round_trips_through_from_env():
    s = Settings.from_env({"PCS_API_PORT": "8080", "PCS_MINUTE_S": "0.25",
                           "PCS_DATABASE_URL": "postgresql://u:p@h/db"})
    assert Settings.from_env(s.as_env()) == s


def test_queue_timeout_minutes_is_a_setting():
    env_names = {name for name, _, _ in Settings().described()}
    assert "PCS_QUEUE_TIMEOUT_MINUTES" in env_names
