"""The `hub` command line: help everywhere, users, seeds and the demo set-up."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import func, select

from hub.cli import main
from hub.models import Company, Filing, User
from hub.seeding import DEFAULT_SEED_DIR
from hub.storage import make_engine


def _walk(group: click.Group, prefix: tuple[str, ...] = ()):
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _walk(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = list(_walk(main))


def test_the_expected_commands_exist():
    names = {" ".join(c) for c in COMMANDS}
    assert {"db upgrade", "users create", "seed", "serve", "demo"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "hub" for c in COMMANDS])
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # A sentence of help, not only the usage line.
    assert len(result.output.split("Options:")[0].strip().splitlines()) >= 3


@pytest.fixture
def cli_env(database_url, tmp_path, monkeypatch) -> dict[str, str]:
    """Point the CLI at the test's database through the environment, as a user would."""
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "HUB_ENV": "development",
        "HUB_SECRET_KEY": "cli-test-secret",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HUB_DEMO_PASSWORD", raising=False)
    return env


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_db_upgrade(cli_env):
    result = _run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "revision" in result.output
    from alembic.script import ScriptDirectory

    from hub.storage import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert _run("db", "current").output.strip() == head


def test_users_create_staff_and_sign_in(cli_env, make_app, login):
    result = _run(
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "Boss@Hub.kz",
        "--password",
        "a good password",
    )
    assert result.exit_code == 0, result.output
    client = make_app().test_client()
    assert login(client, "boss@hub.kz", "a good password").headers["Location"] == "/admin"


def test_users_create_prompts_for_the_password(cli_env, db_session):
    result = _run(
        "users",
        "create",
        "--role",
        "author",
        "--email",
        "pen@hub.kz",
        input="a good password\na good password\n",
    )
    assert result.exit_code == 0, result.output
    assert db_session.exec(select(User).where(User.email == "pen@hub.kz")).one().role == "author"


def test_users_create_company_user(cli_env, db_session):
    result = _run(
        "users",
        "create",
        "--role",
        "company",
        "--email",
        "cfo@steppe.kz",
        "--password",
        "a good password",
        "--bin",
        "940140000385",
        "--legal-name",
        "Steppe Exchange LLP",
        "--activity",
        "exchange",
    )
    assert result.exit_code == 0, result.output
    user = db_session.exec(select(User).where(User.email == "cfo@steppe.kz")).one()
    assert db_session.get(Company, user.company_id).bin == "940140000385"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "company", "--email", "a@b.kz", "--password", "long enough"], "--bin"),
        (["--role", "admin", "--email", "a@b.kz", "--password", "short"], "8 characters"),
        (
            [
                "--role",
                "admin",
                "--email",
                "a@b.kz",
                "--password",
                "long enough",
                "--bin",
                "940140000385",
            ],
            "company users only",
        ),
        (
            ["--role", "company", "--email", "a@b.kz", "--password", "long enough", "--bin", "123"],
            "--bin",
        ),
        (
            [
                "--role",
                "company",
                "--email",
                "a@b.kz",
                "--password",
                "long enough",
                "--bin",
                "940140000385",
            ],
            "--legal-name",
        ),
        (["--role", "admin", "--email", "not an email", "--password", "long enough"], "e-mail"),
    ],
)
def test_users_create_refuses_bad_input(cli_env, db_session, args, message):
    result = CliRunner().invoke(main, ["users", "create", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert db_session.exec(select(func.count()).select_from(User)).one() == 0


def test_seed_loads_the_demo_companies_once(cli_env, db_session):
    first = _run("seed")
    assert first.exit_code == 0, first.output
    second = _run("seed")
    assert "Seeded 0 companies and 0 filings" in second.output
    companies = db_session.exec(select(Company)).all()
    assert len(companies) >= 40
    assert {c.activity for c in companies} == {
        "exchange",
        "broker",
        "custody",
        "payments",
        "mining",
        "software",
    }
    filings = db_session.exec(select(Filing)).all()
    assert len(filings) >= 40
    by_company = {c.id: c for c in companies}
    for filing in filings:
        company = by_company[filing.company_id]
        assert filing.inputs["bin"] == company.bin
        assert filing.inputs["activity"] == company.activity


def test_seed_files_are_valid():
    doc = json.loads((DEFAULT_SEED_DIR / "companies.json").read_text())
    bins = [c["bin"] for c in doc["companies"]]
    assert len(bins) == len(set(bins))
    from hub.policy.filing import validate_bin

    assert [b for b in bins if validate_bin(b) is not None] == []


def test_demo_prepares_everything_and_prints_working_logins(
    cli_env, monkeypatch, make_app, login, database_url
):
    monkeypatch.setenv("HUB_DEMO_PASSWORD", "demo password 1")
    result = _run("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    # The shipped policy versions are in the studio before any page is served.
    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT version, state FROM policy_version")).all()
    engine.dispose()
    assert sorted(stored) == [("2026.1", "published"), ("2027.1", "published")]
    client = make_app().test_client()
    for email, home in (
        ("company@demo.hub", "/company"),
        ("admin@demo.hub", "/admin"),
        ("author@demo.hub", "/author"),
    ):
        assert email in result.output
        response = login(client, email, "demo password 1")
        assert response.headers.get("Location") == home, email
        assert client.get(home).status_code == 200
        client.post("/logout")
    # The demo company user sees its seeded filing.
    login(client, "company@demo.hub", "demo password 1")
    assert "Steppe Exchange LLP" in client.get("/company").get_data(as_text=True)
    # It says where a registration's confirmation mail is (no mail server in the demo).
    assert "/outbox" in result.output and "/register" in result.output


def test_demo_without_a_password_prints_a_random_one(cli_env, make_app, login):
    result = _run("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "admin@demo.hub" in x)
    password = line.split("password:")[1].strip()
    assert len(password) >= 12
    client = make_app().test_client()
    assert login(client, "admin@demo.hub", password).status_code == 302
    again = _run("demo", "--no-serve")
    assert password not in again.output  # a new one each start, printed once


def test_production_without_secret_is_a_clear_cli_error(cli_env, monkeypatch):
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.delenv("HUB_SECRET_KEY")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "HUB_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_seed_dir_option(cli_env, tmp_path: Path, db_session):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "one.yaml").write_text(
        "companies:\n  - bin: '990140004654'\n    legal_name: Yaml Co LLP\n    activity: software\n"
        "    filings:\n      - status: draft\n"
        "        inputs: {bin: '990140004654', legal_name: Yaml Co LLP, activity: software}\n"
    )
    result = _run("seed", "--dir", str(seeds))
    assert "Seeded 1 companies and 1 filings" in result.output
    assert db_session.exec(select(Company)).one().legal_name == "Yaml Co LLP"


SEED_HEAD = (
    "companies:\n  - bin: {bin}\n    legal_name: Yaml Co LLP\n    activity: software\n"
    "    filings:\n      - status: draft\n        inputs: {{{inputs}}}\n"
)


def test_yaml_seeds_are_read_by_yaml_1_2_like_policy_files(cli_env, tmp_path: Path, db_session):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    # YAML 1.1 reads an unquoted 012345670123 as the octal number 1402433619.
    (seeds / "one.yaml").write_text(
        SEED_HEAD.format(bin="012345670123", inputs="registered_in_hub: no")
    )
    result = CliRunner().invoke(main, ["seed", "--dir", str(seeds)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    out = " ".join(result.output.split())  # click wraps nothing, but be safe
    assert f"{seeds / 'one.yaml'}: line 2: companies[0].bin: 012345670123 means 1402433619 " in out
    assert "line 7: companies[0].filings[0].inputs.registered_in_hub: no means false" in out
    assert db_session.exec(select(func.count()).select_from(Company)).one() == 0
    # A date written unquoted is the text YYYY-MM-DD, as in JSON (YAML 1.1 made it a date
    # object, which the filing refused with a traceback).
    (seeds / "one.yaml").write_text(
        SEED_HEAD.format(bin="'990140004654'", inputs="licence_expires_on: 2027-01-01")
    )
    assert "Seeded 1 companies and 1 filings" in _run("seed", "--dir", str(seeds)).output
    filing = db_session.exec(select(Filing)).one()
    assert filing.inputs["licence_expires_on"] == "2027-01-01"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            SEED_HEAD.format(bin="'990140004654'", inputs="licence_type: bogus, fte_in_zone: -5"),
            "one.yaml: companies[0].filings[0] (BIN 990140004654): licence_type: must be one of "
            "none, trading_facility, service_provider, mining; got 'bogus'; "
            "fte_in_zone: must be at least 0",
        ),
        (
            SEED_HEAD.format(bin="990140004654", inputs=""),
            "one.yaml: companies[0].bin: must be text (quote a BIN: '940140000385')",
        ),
        ("companies: {bin: '990140004654'}\n", "one.yaml: companies must be a list of companies"),
        ("companies: [[1]]\n", "one.yaml: companies[0]: must be a mapping"),
        (
            SEED_HEAD.format(bin="'990140004654'", inputs="").replace("draft", "lost"),
            "one.yaml: companies[0].filings[0].status: must be one of approved, ",
        ),
        ("companies: [{bin: '1', legal_name: x, filings: 3}]", "filings: must be a list"),
        (
            "companies: [{bin: '1', legal_name: x, filings: [{inputs: [1]}]}]",
            "companies[0].filings[0].inputs: must be a mapping",
        ),
    ],
)
def test_a_seed_the_hub_refuses_is_named_by_file_entry_and_field(
    cli_env, tmp_path: Path, db_session, text: str, error: str
):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "one.yaml").write_text(text)
    result = CliRunner().invoke(main, ["seed", "--dir", str(seeds)])
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "Traceback" not in result.output and error in out, result.output
    assert db_session.exec(select(func.count()).select_from(Company)).one() == 0
