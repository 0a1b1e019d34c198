"""Model management against a real HTTP server on 127.0.0.1 (Range, interruptions, bad bytes)."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import json
import logging
import re
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rtvi_edge.errors import ModelNotFoundError
from rtvi_edge.models import download
from rtvi_edge.models.catalogue import (
    CATALOGUE,
    ModelFile,
    ModelSpec,
    catalogue,
    default_models_dir,
    resolve_model,
)
from rtvi_edge.models.commands import add_models_parser, run_models
from rtvi_edge.models.download import ChecksumError, DownloadError, Progress
from rtvi_edge.models.store import MANIFEST, PARTIAL, pull, trusted_on_first_use, verify

PAYLOAD = bytes(range(256)) * 40  # 10 KiB, not a multiple of the chunk size


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Served:
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    ignore_range: bool = False
    cut_after: dict[str, int] = field(default_factory=dict)  # send N bytes, then hang up (once)
    url: str = ""


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state: Served = self.server.state  # type: ignore[attr-defined]
        name = self.path.lstrip("/")
        wanted = self.headers.get("Range")
        state.requests.append((name, wanted))
        if name.startswith("resolve/"):  # like Hugging Face: a redirect to the CDN
            self.send_response(302)
            self.send_header("Location", "/" + name.removeprefix("resolve/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = state.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if wanted and not state.ignore_range:
            match = re.fullmatch(r"bytes=(\d+)-", wanted)
            assert match is not None
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = state.cut_after.pop(name, None)
        self.wfile.write(body if cut is None else body[:cut])


@pytest.fixture
def server() -> Iterator[Served]:
    state = Served(files={})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="model-server", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "BACKOFF", 0.0)
    monkeypatch.delenv("RTVI_EDGE_MODELS_BASE_URL", raising=False)


def single(server: Served, data: bytes = PAYLOAD, digest: str | None = "auto") -> ModelSpec:
    server.files["tiny-q4.gguf"] = data
    return ModelSpec(
        name="tiny-llm",
        kind="llm",
        engine="llama",
        files=(ModelFile(f"{server.url}/tiny-q4.gguf", sha(data) if digest == "auto" else digest),),
        path="tiny-q4.gguf",
        description="test model",
        license="MIT",
    )


def part_of(models: Path, spec: ModelSpec) -> Path:
    return models / PARTIAL / spec.name / (spec.files[0].filename + ".part")


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rtvi-edge")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["models", *argv])


# -- pull -------------------------------------------------------------------------------


def test_pull_verifies_and_installs(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    path = pull(spec, tmp_path)
    assert path == tmp_path / "tiny-llm" / "tiny-q4.gguf"
    assert path.read_bytes() == PAYLOAD
    manifest = json.loads((tmp_path / "tiny-llm" / MANIFEST).read_text())
    assert manifest["files"] == {"tiny-q4.gguf": sha(PAYLOAD)}
    assert manifest["downloads"][0]["pinned"] is True
    assert not (tmp_path / PARTIAL / "tiny-llm").exists()
    assert verify(spec, tmp_path) == []
    assert resolve_model("tiny-llm", tmp_path, {"tiny-llm": spec}) == path


def test_pull_twice_downloads_once(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    pull(spec, tmp_path)
    pull(spec, tmp_path)
    assert len(server.requests) == 1
    pull(spec, tmp_path, force=True)
    assert len(server.requests) == 2


def test_resume_from_partial_download(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    part = part_of(tmp_path, spec)
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:4000])
    assert pull(spec, tmp_path).read_bytes() == PAYLOAD
    assert server.requests == [("tiny-q4.gguf", "bytes=4000-")]


def test_resume_keeps_the_range_across_a_redirect(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    file = ModelFile(f"{server.url}/resolve/tiny-q4.gguf", sha(PAYLOAD))
    spec = ModelSpec(spec.name, "llm", "llama", (file,), spec.path, "", "")
    part = part_of(tmp_path, spec)
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:5000])
    assert pull(spec, tmp_path).read_bytes() == PAYLOAD
    assert server.requests == [
        ("resolve/tiny-q4.gguf", "bytes=5000-"),
        ("tiny-q4.gguf", "bytes=5000-"),
    ]


def test_complete_part_gets_416_and_is_used(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    part = part_of(tmp_path, spec)
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD)
    assert pull(spec, tmp_path).read_bytes() == PAYLOAD
    assert server.requests == [("tiny-q4.gguf", f"bytes={len(PAYLOAD)}-")]


def test_server_ignoring_range_starts_over(server: Served, tmp_path: Path) -> None:
    server.ignore_range = True
    spec = single(server)
    part = part_of(tmp_path, spec)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from another file")
    assert pull(spec, tmp_path).read_bytes() == PAYLOAD


def test_interrupted_transfer_resumes_with_range(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    server.cut_after["tiny-q4.gguf"] = 3000
    assert pull(spec, tmp_path).read_bytes() == PAYLOAD
    assert server.requests == [("tiny-q4.gguf", None), ("tiny-q4.gguf", "bytes=3000-")]


def test_bad_checksum_is_rejected_and_the_part_deleted(server: Served, tmp_path: Path) -> None:
    spec = single(server, digest=sha(b"the real model"))
    with pytest.raises(ChecksumError, match="expected"):
        pull(spec, tmp_path)
    assert not part_of(tmp_path, spec).exists()
    assert not (tmp_path / "tiny-llm").exists()


def test_missing_file_is_a_clear_error_without_retries(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    server.files.clear()
    with pytest.raises(DownloadError, match="HTTP 404"):
        pull(spec, tmp_path)
    assert len(server.requests) == 1


def test_unreachable_server_retries_then_fails(tmp_path: Path) -> None:
    spec = ModelSpec(
        "gone", "llm", "llama", (ModelFile("http://127.0.0.1:9/x.gguf", None),), "x.gguf", "", ""
    )
    with pytest.raises(DownloadError, match="run again to resume"):
        pull(spec, tmp_path)


def test_trust_on_first_use_records_the_digest(
    server: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = single(server, digest=None)
    with caplog.at_level(logging.WARNING):
        path = pull(spec, tmp_path)
    assert "trust on first use" in caplog.text
    assert sha(PAYLOAD) in caplog.text
    assert trusted_on_first_use(spec, tmp_path)
    assert verify(spec, tmp_path) == []
    # The recorded digest now pins the file: a changed upstream is refused on re-pull.
    server.files["tiny-q4.gguf"] = b"swapped upstream"
    with pytest.raises(ChecksumError):
        pull(spec, tmp_path, force=True)
    assert path.read_bytes() == PAYLOAD  # the installed model is untouched


def test_verify_finds_a_modified_file(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    path = pull(spec, tmp_path)
    path.write_bytes(b"bit rot")
    (problem,) = verify(spec, tmp_path)
    assert "tiny-q4.gguf has changed" in problem


# -- archives ---------------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def archive_spec(server: Served, filename: str, data: bytes, path: str) -> ModelSpec:
    server.files[filename] = data
    file = ModelFile(f"{server.url}/{filename}", sha(data), len(data))
    return ModelSpec("vosk-tiny", "stt", "vosk", (file,), path, "test archive", "Apache-2.0")


MODEL_TREE = {"vosk-model-tiny/am/final.mdl": b"acoustic", "vosk-model-tiny/conf/model.conf": b"c"}


@pytest.mark.parametrize(
    ("filename", "pack"), [("vosk-model-tiny.zip", zip_bytes), ("model.tar.gz", tar_bytes)]
)
def test_archives_are_unpacked_into_place(
    server: Served, tmp_path: Path, filename: str, pack: Callable[[dict[str, bytes]], bytes]
) -> None:
    spec = archive_spec(server, filename, pack(MODEL_TREE), "vosk-model-tiny")
    path = pull(spec, tmp_path)
    assert path == tmp_path / "vosk-tiny" / "vosk-model-tiny"
    assert (path / "am" / "final.mdl").read_bytes() == b"acoustic"
    assert not (tmp_path / "vosk-tiny" / filename).exists()  # the archive itself is not kept
    files = json.loads((tmp_path / "vosk-tiny" / MANIFEST).read_text())["files"]
    assert files["vosk-model-tiny/am/final.mdl"] == sha(b"acoustic")
    assert verify(spec, tmp_path) == []
    (path / "conf" / "model.conf").unlink()
    assert verify(spec, tmp_path) == ["vosk-model-tiny/conf/model.conf is missing"]


def test_path_traversal_in_an_archive_is_refused(server: Served, tmp_path: Path) -> None:
    models = tmp_path / "models"
    spec = archive_spec(server, "evil.zip", zip_bytes({"../../evil": b"x"}), "evil")
    with pytest.raises(DownloadError, match="unsafe member"):
        pull(spec, models)
    assert not (tmp_path / "evil").exists()
    assert not spec.directory(models).exists()
    assert list((models / PARTIAL).glob("*staging*")) == []


def test_archive_without_the_model_path_is_refused(server: Served, tmp_path: Path) -> None:
    spec = archive_spec(server, "m.tar.gz", tar_bytes(MODEL_TREE), "some-other-dir")
    with pytest.raises(DownloadError, match="has no some-other-dir"):
        pull(spec, tmp_path)
    assert not spec.directory(tmp_path).exists()


def test_a_second_pull_replaces_the_directory_atomically(server: Served, tmp_path: Path) -> None:
    spec = archive_spec(server, "m.zip", zip_bytes(MODEL_TREE), "vosk-model-tiny")
    pull(spec, tmp_path)
    stray = spec.directory(tmp_path) / "vosk-model-tiny" / "stray"
    stray.write_text("left over")
    pull(spec, tmp_path, force=True)
    assert not stray.exists()
    assert list((tmp_path / PARTIAL).iterdir()) == []  # no staging or old copies left


# -- resolve_model ----------------------------------------------------------------------


def test_resolve_names_the_path_and_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("vosk-small-en-us", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "vosk-small-en-us" / "vosk-model-small-en-us-0.15") in message
    assert "rtvi-edge models pull vosk-small-en-us" in message


def test_resolve_unknown_name_lists_the_catalogue(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="models list") as err:
        resolve_model("gpt-5", tmp_path)
    assert "qwen2.5-0.5b-instruct" in str(err.value)


def test_resolve_paths(tmp_path: Path) -> None:
    model = tmp_path / "my.gguf"
    model.write_bytes(b"gguf")
    assert resolve_model(str(model), tmp_path) == model
    with pytest.raises(ModelNotFoundError, match=re.escape(str(tmp_path / "none.gguf"))):
        resolve_model(str(tmp_path / "none.gguf"), tmp_path)


def test_default_models_dir() -> None:
    assert default_models_dir({"STATE_DIRECTORY": "/var/lib/rtvi-edge:/x"}) == Path(
        "/var/lib/rtvi-edge/models"
    )
    assert default_models_dir({}) == Path.home() / ".local/state/rtvi-edge/models"


# -- the catalogue ----------------------------------------------------------------------


def test_catalogue_entries_are_well_formed() -> None:
    names = [s.name for s in CATALOGUE]
    assert len(names) == len(set(names))
    assert {s.kind for s in CATALOGUE} == {"stt", "llm", "tts"}
    for spec in CATALOGUE:
        assert spec.path and spec.files
        for file in spec.files:
            assert file.url.startswith("https://")
            assert file.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", file.sha256)
        if spec.engine == "piper":
            assert [f.filename for f in spec.files] == [spec.path, spec.path + ".json"]
        if spec.engine == "llama":
            assert spec.path.endswith(".gguf") and "/resolve/" in spec.files[0].url


def test_base_url_serves_every_file_from_a_mirror() -> None:
    specs = catalogue("http://mirror.lan/models/")
    (file,) = specs["vosk-small-en-us"].files
    assert file.url == "http://mirror.lan/models/vosk-model-small-en-us-0.15.zip"
    assert file.sha256 == CATALOGUE[0].files[0].sha256


# -- the command line -------------------------------------------------------------------


def test_cli_pull_with_a_bad_checksum_exits_1(
    server: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.files["en_US-amy-low.onnx"] = b"not the voice"
    server.files["en_US-amy-low.onnx.json"] = b"{}"
    monkeypatch.setenv("RTVI_EDGE_MODELS_BASE_URL", server.url)
    assert run_models(cli("pull", "piper-en-us-amy-low", "--dir", str(tmp_path))) == 1
    err = capsys.readouterr().err
    assert "error: en_US-amy-low.onnx" in err and "SHA-256" in err
    assert list(tmp_path.rglob("*.part")) == []
    assert not (tmp_path / "piper-en-us-amy-low").exists()


def test_cli_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_models(cli("pull", "nope", "--dir", str(tmp_path))) == 2
    assert "no model 'nope'" in capsys.readouterr().err


def test_cli_list_and_verify(
    server: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_models(cli("verify", "--dir", str(tmp_path))) == 0
    assert "no models installed" in capsys.readouterr().out
    assert run_models(cli("list", "--dir", str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert all(spec.name in out for spec in CATALOGUE)
    assert "installed" not in out
    # A real catalogue entry installed by hand-copying a file: verify says so.
    spec = catalogue()["qwen2.5-0.5b-instruct"]
    spec.installed_path(tmp_path).parent.mkdir(parents=True)
    spec.installed_path(tmp_path).write_bytes(b"gguf")
    assert run_models(cli("list", "--dir", str(tmp_path))) == 0
    assert re.search(
        r"qwen2.5-0.5b-instruct\s+llm\s+llama\s+491 MB\s+installed", capsys.readouterr().out
    )
    assert run_models(cli("verify", "qwen2.5-0.5b-instruct", "--dir", str(tmp_path))) == 1
    assert "FAILED qwen2.5-0.5b-instruct" in capsys.readouterr().out


# -- progress ---------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal() -> None:
    term = Terminal()
    progress = Progress("tiny-llm: tiny-q4.gguf", term)
    progress.start(2_000_000, 0)
    progress.advance(1_000_000)
    progress.finish()
    out = term.getvalue()
    assert out.startswith("\rtiny-llm: tiny-q4.gguf") and out.endswith("\n")
    assert "[############------------]  50.0% 1.0 MB of 2.0 MB" in out


def test_progress_logs_when_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="rtvi_edge.models.download"):
        progress = Progress("model", stream, log_every=0.0)
        progress.start(1000, 500)
        progress.advance(500)
        progress.finish()
    assert stream.getvalue() == ""
    assert "model: resuming at 0.0 MB" in caplog.text
    assert "model: 100.0% 0.0 MB of 0.0 MB" in caplog.text


def test_a_concurrent_pull_of_the_same_model_is_refused(server: Served, tmp_path: Path) -> None:
    spec = single(server)
    work = tmp_path / PARTIAL / spec.name
    work.mkdir(parents=True)
    with (work / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(DownloadError, match="another `models pull tiny-llm` is running"):
            pull(spec, tmp_path)
    assert server.requests == []
