"""The ``jegal`` entry point."""

import types

from jegal import cli


def test_ctrl_c_is_one_line_and_exit_status_130(monkeypatch, capsys):
    """A command interrupted by Ctrl-C ends with one line, no traceback, and the shell's 130."""
    def run(args):
        raise KeyboardInterrupt

    command = types.SimpleNamespace(configure=lambda parser: parser.add_argument("video"), run=run)
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: command)
    assert cli.main(["spot", "video.mp4"]) == 130
    assert capsys.readouterr().err.strip() == "jegal spot: interrupted"
