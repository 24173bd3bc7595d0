"""The CLI's parser: every command has --help; extra subcommands come from COMMAND_MODULES."""

import sys
import types

import pytest

from services.supervisor import cli, jupyter

COMMANDS = ["up", "lab", "down", "status", "stop", "start", "restart", "logs", "settings"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mini" + ("" if command is None else f" {command}"))
    assert "--data-dir" in out


def test_service_commands_know_the_topology(capsys):
    with pytest.raises(SystemExit):
        cli.main(["stop", "nosuch"])
    assert "invalid choice" in capsys.readouterr().err


def test_command_modules_register_subcommands(monkeypatch, capsys):
    module = types.ModuleType("fake_piece_cli")

    def register(subparsers):
        p = subparsers.add_parser("fake", help="a piece's own command")
        p.set_defaults(func=lambda args: print("fake ran in", args.home) or 0)

    module.register = register
    monkeypatch.setitem(sys.modules, "fake_piece_cli", module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("fake_piece_cli", "services.no_such_piece.cli"))
    assert cli.main(["--data-dir", "/tmp/x-mini", "fake"]) == 0
    assert "fake ran in /tmp/x-mini" in capsys.readouterr().out


def test_a_broken_command_module_is_not_hidden(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("tests.unit.supervisor.broken_cli_fixture",))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        cli.build_parser()


def test_server_proxy_entries_point_at_the_collector(tmp_path, monkeypatch):
    monkeypatch.setenv("MINI_HOME", str(tmp_path))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "collector.json").write_text('{"pid": 1, "port": 45678}')
    entry = jupyter.collector_proxy()
    assert entry["port"] == 45678 and entry["command"] == []
    dash = jupyter.dashboard_proxy()
    assert dash["mappath"]("/index.html") == "/dashboard/index.html"


def test_settings_lists_every_key_as_readme_rows(capsys):
    assert cli.main(["settings", "--markdown", "common", "supervisor"]) == 0
    out = capsys.readouterr().out
    assert "| `supervisor.port` | `MINI_SUPERVISOR_PORT` | `0` |" in out
    assert "| `nsqd.tcp_address` | `MINI_NSQD_TCP_ADDRESS` |" in out


def test_settings_values_show_their_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINI_LAB_PORT", "9999")
    (tmp_path / "mini.toml").write_text("[supervisor]\nbackoff_max = 5.0\n")
    assert cli.main(["settings", "--values", "--data-dir", str(tmp_path), "supervisor"]) == 0
    out = capsys.readouterr().out
    assert "now 9999 (from MINI_LAB_PORT)" in out
    assert f"now 5.0 (from {tmp_path / 'mini.toml'})" in out


def test_data_dir_reaches_a_piece_whose_own_parser_also_has_it(monkeypatch, capsys):
    module = types.ModuleType("fake_nested_cli")

    def register(subparsers):
        p = subparsers.add_parser("nested")
        inner = p.add_subparsers(dest="verb", required=True)
        q = inner.add_parser("go")
        q.add_argument("--data-dir", default=None)  # overwrites the outer value with None
        q.set_defaults(func=lambda args: print("home", args.home) or 0)

    module.register = register
    monkeypatch.setitem(sys.modules, "fake_nested_cli", module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("fake_nested_cli",))
    assert cli.main(["--data-dir", "/tmp/outer-mini", "nested", "go"]) == 0
    assert cli.main(["nested", "--data-dir", "/tmp/mid-mini", "go"]) == 0
    out = capsys.readouterr().out
    assert "home /tmp/outer-mini" in out and "home /tmp/mid-mini" in out
