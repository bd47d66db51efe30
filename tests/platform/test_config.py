"""Settings come from DATABASE_URL, REDIS_URL and KEEL_<FIELD>, typed, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_core.core.config import Settings, get_settings, settings_from_env


def test_defaults_when_nothing_is_set() -> None:
    settings = settings_from_env({})
    assert settings == Settings()
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.data_dir == Path(".keel")


def test_reads_urls_and_prefixed_variables_with_their_types() -> None:
    settings = settings_from_env(
        {
            "DATABASE_URL": "postgresql://keel@db:5432/keel",
            "REDIS_URL": "redis://cache:6379/0",
            "KEEL_DATA_DIR": "/var/lib/keel",
            "KEEL_TOKEN_PEPPER": "pepper",
            "KEEL_ENVIRONMENT": "production",
            "KEEL_DB_POOL_SIZE": "25",
            "KEEL_OUTBOX_MAX_ATTEMPTS": "3",
            "KEEL_OUTBOX_SWEEP_SECONDS": "0.25",
            "KEEL_OIDC_ISSUER": "https://id.example.org/realms/keel",
        }
    )
    assert settings.database_url == "postgresql://keel@db:5432/keel"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.data_dir == Path("/var/lib/keel")
    assert isinstance(settings.data_dir, Path)
    assert settings.token_pepper == "pepper"
    assert settings.environment == "production"
    assert settings.db_pool_size == 25
    assert settings.outbox_max_attempts == 3
    assert settings.outbox_sweep_seconds == 0.25
    assert settings.oidc_issuer == "https://id.example.org/realms/keel"


def test_urls_are_not_read_with_the_prefix_and_unknown_variables_are_ignored() -> None:
    settings = settings_from_env(
        {"KEEL_DATABASE_URL": "postgresql://wrong/db", "KEEL_NO_SUCH_SETTING": "1", "PATH": "/bin"}
    )
    assert settings.database_url is None
    assert settings == Settings()


def test_empty_values_mean_unset() -> None:
    settings = settings_from_env({"DATABASE_URL": "", "KEEL_DB_POOL_SIZE": ""})
    assert settings.database_url is None
    assert settings.db_pool_size == Settings().db_pool_size


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("KEEL_DB_POOL_SIZE", "ten", "db_pool_size"),
        ("KEEL_OUTBOX_BATCH_SIZE", "1.5", "outbox_batch_size"),
        ("KEEL_OUTBOX_SWEEP_SECONDS", "soon", "outbox_sweep_seconds"),
    ],
)
def test_bad_values_name_the_setting(variable: str, value: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        settings_from_env({variable: value})


def test_settings_are_immutable() -> None:
    settings = settings_from_env({})
    with pytest.raises(AttributeError):
        settings.db_pool_size = 1  # type: ignore[misc]


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://from-env:6379/2")
    monkeypatch.setenv("KEEL_OUTBOX_LEASE_SECONDS", "90")
    settings = settings_from_env()
    assert settings.redis_url == "redis://from-env:6379/2"
    assert settings.outbox_lease_seconds == 90
    get_settings.cache_clear()
    try:
        assert get_settings() == settings
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()
