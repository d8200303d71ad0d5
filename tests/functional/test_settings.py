"""One setting for one thing: the policy folder is HUB_POLICY_DIR, everywhere.

``HUB_POLICIES_DIR`` was read by ``hub policy test`` only, while the service read
``HUB_POLICY_DIR``: set to another folder, the specs ran against other files than the
service served. It now stops start-up (the app and every ``hub`` command) with a
message naming the setting to use; refused rather than accepted with a warning, since a
warning on a server's start-up is easily missed while the folder would still be wrong.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub import create_app
from hub.cli import main
from hub.config import ConfigError

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

MESSAGE = "HUB_POLICIES_DIR is not a setting: use HUB_POLICY_DIR"


def test_the_app_refuses_to_start_with_the_retired_name(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_POLICIES_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=MESSAGE) as caught:
        create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": "sqlite://"})
    assert f"HUB_POLICY_DIR={tmp_path}" in str(caught.value)


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "test"],
        ["policy", "check", "policies"],
        ["assess", "filing.json"],
        ["db", "current"],
    ],
    ids=" ".join,
)
def test_every_command_refuses_to_start_with_the_retired_name(monkeypatch, tmp_path, args):
    monkeypatch.setenv("HUB_POLICIES_DIR", str(tmp_path))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert MESSAGE in result.output


def test_hub_policy_test_reads_the_services_policy_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("HUB_POLICIES_DIR", raising=False)
    monkeypatch.setenv("HUB_POLICY_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["policy", "test"])
    assert result.exit_code == 2, result.output
    assert f"no policy files given and none in {tmp_path}" in result.output


def test_the_features_folder_is_a_setting_of_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_FEATURES_DIR", str(tmp_path / "features"))
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": "sqlite://"})
    assert app.config["FEATURES_DIR"] == str(tmp_path / "features")
