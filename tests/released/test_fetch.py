"""``jegal fetch released`` against a local HTTP server (127.0.0.1, Range support) serving synthetic
checkpoints in the released layout (the parity fixture's recipe): the fetch imports into the cache and
``--model released`` resolves there; a changed file is refused naming it; a dropped connection resumes
from the ``.part``; an unreachable server prints the offline line, without a traceback."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path

import pytest

from jegal.cli import main
from tests.model import released_fixture as rf


class Server:
    """Files served from memory at http://127.0.0.1:PORT/NAME; honours ``Range: bytes=a-``; with
    ``drop[name] = n`` the next response for ``name`` sends n bytes of the body then closes."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.drop, self.requests = dict(files), {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range")))
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = server.drop.pop(name, None)
                self.wfile.write(body[start:start + cut] if cut is not None else body[start:])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/checkpoints"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("released_files")
    files = {}
    for which in ("jegal", "gestsync"):
        path = rf.save_released(root / f"{which}.pth", rf.recipe_state(which))
        files[f"checkpoints/{which}.pth"] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def text_model(tmp_path_factory) -> Path:
    """A tiny XLM-R-shaped model folder: width 768 as xlm-roberta-base, one layer, a 40-token vocabulary."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    out = tmp_path_factory.mktemp("xlmr") / "tiny-xlm-roberta"
    config = XLMRobertaConfig(vocab_size=40, hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                              intermediate_size=32, max_position_embeddings=40)
    XLMRobertaModel(config).save_pretrained(out)
    return out


def test_fetch_imports_into_the_cache_and_model_released_resolves(checkpoints, text_model, tmp_path, monkeypatch,
                                                                 capsys):
    from jegal.model import JEGAL
    from jegal.model.pretrained import resolve_model_dir

    cache = tmp_path / "cache"
    monkeypatch.setenv("JEGAL_CACHE", str(cache))
    with Server(checkpoints) as server:
        assert main(["fetch", "released", "--base-url", server.url, "--text-model", str(text_model)]) == 0
        out = capsys.readouterr().out
        assert f"model: {cache / 'released' / 'model'} (imported)" in out
        assert "jegal.pth: " in out and "gestsync.pth: " in out and "terms: " in out and "MIT" in out
        manifest = json.loads((cache / "released" / "manifest.json").read_text())
        assert set(manifest["files"]) == {"jegal.pth", "gestsync.pth"}
        assert manifest["files"]["jegal.pth"]["size"] == len(checkpoints["checkpoints/jegal.pth"])
        assert manifest["text_state"] == "available"
        assert not list((cache / "released" / "downloads").glob("*.part"))
        # a second run downloads nothing and does not import again
        n = len(server.requests)
        assert main(["fetch", "released", "--base-url", server.url, "--text-model", str(text_model)]) == 0
        assert len(server.requests) == n and "already imported, current" in capsys.readouterr().out
    model_dir = resolve_model_dir("released")
    assert model_dir == cache / "released" / "model"
    assert (model_dir / "gestsync.safetensors").is_file()
    model = JEGAL.from_pretrained("released")
    assert model.source_dir == model_dir and model.config.gesture.feature_dim == 1024
    assert model.config.text.backbone == str(text_model)


def test_model_released_without_a_fetch_says_how_to_get_it(avs_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JEGAL_CACHE", str(tmp_path / "empty"))
    assert main(["eval", "spotting", "--model", "released", "--benchmark", str(avs_dir / "avs_spot.csv"),
                 "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "jegal fetch released" in err and "Traceback" not in err


def test_a_changed_file_is_refused_naming_it(checkpoints, tmp_path, capsys):
    cache = tmp_path / "cache"
    with Server(checkpoints) as server:
        args = ["fetch", "released", "--base-url", server.url, "--text-model", "none", "--cache", str(cache)]
        assert main(args) == 0
        capsys.readouterr()
        # the file on disk changed after its first download
        cached = cache / "released" / "downloads" / "jegal.pth"
        data = bytearray(cached.read_bytes())
        data[-100] ^= 0xFF
        cached.write_bytes(bytes(data))
        assert main(args) == 1
        err = capsys.readouterr().err
        assert str(cached) in err and "recorded at its first download" in err and "Traceback" not in err
        # deleted and downloaded again, but the server now has another file: refused, not kept
        cached.unlink()
        server.files["checkpoints/jegal.pth"] = bytes(data)
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "jegal.pth" in err and "differs from the first one" in err
        assert not cached.exists()


def test_an_interrupted_download_resumes_from_the_part_file(checkpoints, tmp_path, capsys):
    from jegal.released.fetch import FetchError, download

    body = checkpoints["checkpoints/gestsync.pth"]
    cut = len(body) // 3
    dest = tmp_path / "gestsync.pth"
    with Server(checkpoints) as server:
        server.drop["checkpoints/gestsync.pth"] = cut
        with pytest.raises(FetchError, match="run `jegal fetch released` again to resume"):
            download(f"{server.url}/gestsync.pth", dest, attempts=1)
        part = dest.with_name("gestsync.pth.part")
        assert part.stat().st_size == cut and not dest.exists()
        assert download(f"{server.url}/gestsync.pth", dest) == len(body)
        assert server.requests[-1] == ("checkpoints/gestsync.pth", f"bytes={cut}-")
        assert dest.read_bytes() == body and not part.exists()
        # within one fetch, a dropped connection is resumed by the next attempt
        dest.unlink()
        server.drop["checkpoints/gestsync.pth"] = cut
        assert download(f"{server.url}/gestsync.pth", dest) == len(body) and dest.read_bytes() == body
        assert server.requests[-1][1] == f"bytes={cut}-"


def test_an_unreachable_server_prints_the_offline_line(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/checkpoints"
    assert main(["fetch", "released", "--base-url", url, "--cache", str(tmp_path / "c"), "--text-model", "none"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("jegal fetch: no network: download these two files on another machine and run "
                          "`jegal import-released")
    assert f"{url}/jegal.pth" in err and f"{url}/gestsync.pth" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
