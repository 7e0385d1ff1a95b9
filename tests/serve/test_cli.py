"""``jegal serve``'s command line: flags, the localhost default, refusals before the server starts."""

from __future__ import annotations

import argparse

import pytest

from jegal.serve import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def started(monkeypatch):
    """Calls of uvicorn.run, recorded instead of serving."""
    import uvicorn

    calls = []

    def fake_run(app, host, port, **kw):
        calls.append({"app": app, "host": host, "port": port, "work": app.state.queue.root.parent})
        assert app.state.queue.root.parent.is_dir()

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr("jegal.native_logs.quiet_native_logs", lambda **kw: None)  # (fd 2 of the test process)
    return calls


def test_it_listens_on_localhost_port_7860_by_default_and_cleans_up(started, capsys, tmp_path):
    args = parse("--work-dir", str(tmp_path))
    assert (args.host, args.port, args.model) == ("127.0.0.1", 7860, None)
    assert cli.run(args) == 0
    (call,) = started
    assert call["host"] == "127.0.0.1" and call["port"] == 7860
    assert "http://127.0.0.1:7860/" in capsys.readouterr().out
    assert not call["work"].exists()  # the temporary work folder goes with the server
    limits = call["app"].state.limits
    assert (limits.max_upload_mb, limits.max_seconds) == (100.0, 120.0)


def test_other_addresses_are_allowed_with_a_warning(started, capsys, tmp_path):
    assert cli.run(parse("--host", "0.0.0.0", "--port", "8001", "--max-seconds", "30", "--work-dir",
                         str(tmp_path))) == 0
    assert started[0]["host"] == "0.0.0.0" and started[0]["app"].state.limits.max_seconds == 30.0
    assert "anyone who can reach port 8001" in capsys.readouterr().err


def test_a_missing_model_or_a_bad_limit_stops_it_before_serving(started, capsys, tmp_path):
    assert cli.run(parse("--model", str(tmp_path / "nope"))) == 1
    assert "nope" in capsys.readouterr().err
    assert cli.run(parse("--max-upload-mb", "0")) == 1
    assert "--max-upload-mb must be positive" in capsys.readouterr().err
    assert not started


@pytest.mark.parametrize("host,local", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
                                        ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.4", False),
                                        ("example.org", False)])
def test_loopback_addresses(host, local):
    assert cli.is_loopback(host) is local
