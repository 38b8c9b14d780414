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


# -- upstream names, booleans, sources --------------------------------------------------------
@pytest.mark.parametrize("upstream, field, raw, expected", [
    ("CRED_CACHE_DURATION", "cred_cache_duration_s", "30", 30),
    ("VAULT_KEYPATH", "vault_keypath", "hms-creds", "hms-creds"),
    ("VAULT_ADDR", "vault_addr", "http://vault:8200", "http://vault:8200"),
    ("CRAY_VAULT_AUTH_PATH", "vault_auth_path", "auth/token/create", "auth/token/create"),
    ("SMS_SERVER", "sms_server", "http://smd:27779", "http://smd:27779"),
    ("VAULT_ENABLED", "vault_enabled", "false", False),
])
def test_upstream_names_are_read(upstream, field, raw, expected):
    assert getattr(Settings.from_env({upstream: raw}), field) == expected


def test_the_pcs_name_wins_over_upstreams():
    s = Settings.from_env({"CRED_CACHE_DURATION": "30", "PCS_CRED_CACHE_DURATION": "5",
                           "VAULT_ENABLED": "false", "PCS_VAULT_ENABLED": "true"})
    assert s.cred_cache_duration_s == 5 and s.vault_enabled is True


def test_an_empty_pcs_name_leaves_upstreams_value():
    assert Settings.from_env({"PCS_VAULT_KEYPATH": "", "VAULT_KEYPATH": "hms-creds"}
                             ).vault_keypath == "hms-creds"


@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("True", True),
    ("false", False), ("0", False), ("no", False), ("No", False),
])
def test_booleans_parse_true_false_one_zero_yes_no(raw, expected):
    assert Settings.from_env({"VAULT_SKIP_VERIFY": raw}).vault_skip_verify is expected


@pytest.mark.parametrize("variable", ["VAULT_ENABLED", "PCS_FAKE_VAULT_ENABLED"])
def test_a_bad_boolean_raises_value_error_naming_the_variable(variable):
    with pytest.raises(ValueError, match=f"{variable}='maybe' is not a boolean"):
        Settings.from_env({variable: "maybe"})


def test_a_bad_number_under_upstreams_name_names_that_variable():
    with pytest.raises(ValueError, match="CRED_CACHE_DURATION='ten'"):
        Settings.from_env({"CRED_CACHE_DURATION": "ten"})


@pytest.mark.parametrize("field, expected", [
    ("vault_keypath", "secret/hms-creds"),
    ("cred_cache_duration_s", 600),
    ("vault_auth_path", "auth/kubernetes/login"),
    ("vault_jwt_file", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
    ("vault_role_file", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"),
    ("vault_skip_verify", False),
    ("fake_vault_enabled", False),
    ("sms_server", None),
])
def test_source_defaults_are_upstreams(field, expected):
    assert getattr(Settings.from_env({}), field) == expected


@pytest.mark.parametrize("env, inventory, credentials", [
    ({}, "local", "local"),
    ({"SMS_SERVER": "http://smd"}, "smd", "vault"),          # upstream's default with SMD
    ({"PCS_SMS_SERVER": "http://smd"}, "smd", "vault"),
    ({"SMS_SERVER": "http://smd", "VAULT_ENABLED": "false"}, "smd", "local"),
    ({"VAULT_ENABLED": "true"}, "local", "vault"),
    ({"FAKE_VAULT_ENABLED": "true", "VAULT_ENABLED": "true"}, "local", "fake"),
])
def test_inventory_and_credential_sources(env, inventory, credentials):
    s = Settings.from_env(env)
    assert (s.inventory_source, s.credential_source) == (inventory, credentials)


@pytest.mark.parametrize("variable", ["VAULT_TOKEN", "PCS_VAULT_TOKEN",
                                      "PCS_FAKE_VAULT_REDFISH_PASSWORD"])
def test_described_masks_vault_token_and_fake_password(variable):
    rows = Settings.from_env({variable: "hvs.Very-Secret-1234"}).described()
    assert not any("Very-Secret" in shown for _, shown, _ in rows)
    assert "********" in {shown for _, shown, _ in rows}


def test_described_names_the_upstream_variable_in_the_help():
    meaning = {name: help_text for name, _, help_text in Settings().described()}
    assert "(also CRED_CACHE_DURATION)" in meaning["PCS_CRED_CACHE_DURATION"]
    assert "(also VAULT_TOKEN)" in meaning["PCS_VAULT_TOKEN"]


def test_as_env_round_trips_booleans_and_upstream_values():
    s = Settings.from_env({"VAULT_ENABLED": "yes", "VAULT_SKIP_VERIFY": "1",
                           "CRED_CACHE_DURATION": "42", "VAULT_TOKEN": "t"})
    env = s.as_env()
    assert env["PCS_VAULT_ENABLED"] == "True" and env["PCS_CRED_CACHE_DURATION"] == "42"
    assert Settings.from_env(env) == s


# --- bounds and unknown names ------------------------------------------------------------------

@pytest.mark.parametrize("variable, raw", [
    ("PCS_BMC_MAX_INFLIGHT", "0"),        # would stop every dispatch
    ("PCS_WORKER_CONCURRENCY", "0"),
    ("PCS_API_PORT", "70000"),
    ("PCS_CONFIRM_INTERVAL_S", "-1"),
    ("PCS_STEP_BATCH", "0"),
    ("CRED_CACHE_DURATION", "-5"),        # upstream's name is named when it is the one set
])
def test_a_number_out_of_bounds_is_refused_naming_the_variable(variable, raw):
    with pytest.raises(ValueError, match=f"^{variable}={raw}"):
        Settings.from_env({variable: raw})


def test_every_numeric_setting_has_bounds_that_hold_its_default():
    import dataclasses
    for f in dataclasses.fields(Settings):
        if f.type.split(" ")[0] in ("int", "float"):
            low, high = f.metadata["low"], f.metadata["high"]
            assert low is not None and high is not None, f.metadata["env"]
            assert low <= f.default <= high, f.metadata["env"]


def test_the_bounds_themselves_are_accepted():
    s = Settings.from_env({"PCS_BMC_MAX_INFLIGHT": "1", "PCS_API_PORT": "65535"})
    assert (s.bmc_max_inflight, s.api_port) == (1, 65535)


def test_log_settings_take_their_words_in_any_case_and_refuse_others():
    s = Settings.from_env({"PCS_LOG_FORMAT": "JSON", "PCS_LOG_LEVEL": "debug"})
    assert (s.log_format, s.log_level) == ("json", "DEBUG")
    with pytest.raises(ValueError, match="PCS_LOG_FORMAT='xml' is not one of text, json"):
        Settings.from_env({"PCS_LOG_FORMAT": "xml"})


def test_an_unknown_pcs_variable_warns_naming_the_closest_setting(caplog):
    with caplog.at_level("WARNING", logger="pcs.config"):
        Settings.from_env({"PCS_BMC_MAX_INFLIGT": "3"})
    assert ("PCS_BMC_MAX_INFLIGT is not a pcs setting and is ignored; did you mean "
            "PCS_BMC_MAX_INFLIGHT?") in caplog.messages


def test_cli_and_test_variables_are_not_taken_for_typos():
    from pcs.config import unknown_variables
    env = {"PCS_URL": "http://x", "PCS_TOKEN": "t", "PCS_BMC_PASSWORD": "p",
           "PCS_TEST_DATABASE_URL": "postgresql://", "VAULT_ENABLED": "true",
           "PROMETHEUS_MULTIPROC_DIR": "/tmp/m", "PCS_METRICS_DIR": "/tmp/m"}
    assert unknown_variables(env) == []


def test_metrics_dir_reads_prometheus_name_too():
    assert Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": "/m"}).metrics_dir == "/m"
