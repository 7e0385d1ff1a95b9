"""The ``jegal`` entry point."""

import argparse
import importlib
import types

import pytest

from jegal import cli


def test_ctrl_c_is_one_line_and_exit_status_130(monkeypatch, capsys):
    """A command interrupted by Ctrl-C ends with one line, no traceback, and the shell's 130."""
    def run(args):
        raise KeyboardInterrupt

    command = types.SimpleNamespace(configure=lambda parser: parser.add_argument("video"), run=run)
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: command)
    assert cli.main(["spot", "video.mp4"]) == 130
    assert capsys.readouterr().err.strip() == "jegal spot: interrupted"


def test_every_command_s_help_ends_with_its_usage_lines(capsys):
    """``jegal COMMAND --help`` works for every command and shows the usage lines of its module's
    docstring, so the examples a user reads there are the ones the docs show."""
    for name, (module, _) in cli.COMMANDS.items():
        with pytest.raises(SystemExit) as done:
            cli.main([name, "--help"])
        assert done.value.code == 0, name
        text = capsys.readouterr().out
        examples = cli.usage_lines(importlib.import_module(module).__doc__)
        if examples:
            assert text.rstrip().endswith(examples.rstrip()), name


def test_help_shows_a_default_once_and_only_where_it_says_something():
    parser = argparse.ArgumentParser(formatter_class=cli.HelpFormatter)
    parser.add_argument("--steps", type=int, default=0, help="steps")
    parser.add_argument("--lr", type=float, default=None, help="rate (default: the preset's)")
    parser.add_argument("--quiet", action="store_true", help="no bars")
    parser.add_argument("--set", action="append", default=[], help="overrides")
    text = " ".join(parser.format_help().split())
    assert "steps (default: 0)" in text and text.count("default") == 2
