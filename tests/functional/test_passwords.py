"""Password hashing: production's argon2 parameters, and the cheap ones the tests run with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import Parameters, Type
from argon2.profiles import get_default_parameters

from hub.auth import passwords
from hub.config import ConfigError


@pytest.fixture
def fresh_hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let a test choose HUB_PASSWORD_HASH; the process's hasher is rebuilt around it."""
    passwords._hasher.cache_clear()
    passwords._dummy_hash.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    passwords._hasher.cache_clear()
    passwords._dummy_hash.cache_clear()


def test_production_parameters_are_argon2_cffis_recommended_ones():
    expected = Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
    )
    assert expected == passwords.PRODUCTION_PARAMETERS
    assert get_default_parameters() == passwords.PRODUCTION_PARAMETERS
    # Unset or empty means production: a deployment never gets the test parameters by default.
    assert passwords.parameters_from_env({}) == expected
    assert passwords.parameters_from_env({"HUB_PASSWORD_HASH": ""}) == expected
    assert passwords.parameters_from_env({"HUB_PASSWORD_HASH": "production"}) == expected


def test_unset_setting_hashes_with_production_parameters(fresh_hasher):
    fresh_hasher.delenv("HUB_PASSWORD_HASH", raising=False)
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "wrong horse battery")
    assert not passwords.needs_rehash(hashed)


def test_the_suite_runs_with_the_fast_parameters():
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "wrong horse battery")
    assert not passwords.verify_password(None, "correct horse battery")
    assert not passwords.verify_password("not a hash", "correct horse battery")


def test_a_fast_hash_is_upgraded_at_sign_in_under_production(
    fresh_hasher, make_user, login, client, db_session
):
    user = make_user("company")
    assert user.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    fresh_hasher.setenv("HUB_PASSWORD_HASH", "production")
    passwords._hasher.cache_clear()
    assert passwords.needs_rehash(user.password_hash)
    assert login(client, user).status_code == 302
    db_session.refresh(user)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_an_unknown_setting_stops_start_up_naming_it(fresh_hasher, tmp_path):
    from hub import create_app

    fresh_hasher.setenv("HUB_PASSWORD_HASH", "md5")
    with pytest.raises(ConfigError, match=r"HUB_PASSWORD_HASH must be one of production, fast"):
        create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})
    with pytest.raises(ValueError, match="HUB_PASSWORD_HASH"):
        passwords.hash_password("correct horse battery")


def test_a_malformed_hash_needs_rehash():
    assert passwords.needs_rehash("not a hash")


def test_the_fast_parameters_are_refused_in_production_with_a_clear_message(fresh_hasher, tmp_path):
    from hub import create_app

    config = {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"}
    fresh_hasher.setenv("HUB_ENV", "production")
    fresh_hasher.setenv("HUB_SECRET_KEY", "s" * 64)
    for written in ("fast", " FAST ", "Fast"):
        fresh_hasher.setenv("HUB_PASSWORD_HASH", written)
        with pytest.raises(ConfigError, match=r"HUB_PASSWORD_HASH=fast is for the test suite only"):
            create_app(config)
    for allowed in ("production", "", "  "):
        fresh_hasher.setenv("HUB_PASSWORD_HASH", allowed)
        assert create_app(config).config["PASSWORD_HASH"] == "production"
    # Development may hash cheaply (the test suite does).
    fresh_hasher.setenv("HUB_ENV", "development")
    fresh_hasher.setenv("HUB_PASSWORD_HASH", "fast")
    assert create_app(config).config["PASSWORD_HASH"] == "fast"


def test_every_unsafe_production_setting_is_named_at_start_up(fresh_hasher, tmp_path):
    from click.testing import CliRunner

    from hub.cli import main

    fresh_hasher.setenv("HUB_INSTANCE_PATH", str(tmp_path))
    fresh_hasher.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.sqlite'}")
    fresh_hasher.setenv("HUB_ENV", "production")
    fresh_hasher.delenv("HUB_SECRET_KEY", raising=False)
    fresh_hasher.setenv("HUB_PASSWORD_HASH", "fast")
    for command in (["db", "upgrade"], ["serve", "--port", "0"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert "HUB_SECRET_KEY is not set" in result.output, result.output
        assert "HUB_PASSWORD_HASH=fast is for the test suite only" in result.output
    assert not (tmp_path / "hub.sqlite").exists()
