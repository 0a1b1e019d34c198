"""The models directory: pull (download, unpack, install atomically) and verify.

Layout under the models directory:
    <name>/                       an installed model; `<name>/<spec.path>` is what engines load
    <name>/.rtvi-edge-model.json  what was installed: sources, digests of every file
    .partial/<name>/              downloads in progress (`*.part`) and verified downloads
A model directory appears in one rename, fully unpacked and checked, or not at all.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from rtvi_edge.models.catalogue import ModelFile, ModelSpec
from rtvi_edge.models.download import DownloadError, Progress, download_file, sha256_file

log = logging.getLogger(__name__)

MANIFEST = ".rtvi-edge-model.json"
PARTIAL = ".partial"


def read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _recorded_sha(manifest: dict[str, Any] | None, filename: str) -> str | None:
    """A digest recorded by an earlier pull (how trust-on-first-use entries stay pinned)."""
    for source in (manifest or {}).get("downloads", []):
        if isinstance(source, dict) and source.get("filename") == filename:
            sha = source.get("sha256")
            return sha if isinstance(sha, str) else None
    return None


def is_partial(spec: ModelSpec, models_dir: Path) -> bool:
    return any((models_dir / PARTIAL / spec.name).glob("*.part"))


def pull(
    spec: ModelSpec, models_dir: Path, *, force: bool = False, stream: TextIO | None = None
) -> Path:
    """Download, check and install `spec`; returns its installed path. Idempotent."""
    target = spec.directory(models_dir)
    if target.exists() and not force:
        problems = verify(spec, models_dir)
        if not problems:
            log.info("%s is already installed at %s", spec.name, target)
            return spec.installed_path(models_dir)
        log.warning("%s is installed but %s; pulling it again", spec.name, problems[0])
    work = models_dir / PARTIAL / spec.name
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".lock").open("w") as lock:
        try:  # two pulls of one model would write into the same .part files
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"another `models pull {spec.name}` is running") from None
        previous = read_manifest(target)
        downloads = [
            _fetch(spec, f, work, _recorded_sha(previous, f.filename), stream) for f in spec.files
        ]
        _install(spec, models_dir, work, downloads)
    shutil.rmtree(work, ignore_errors=True)
    return spec.installed_path(models_dir)


def _fetch(
    spec: ModelSpec, file: ModelFile, work: Path, recorded: str | None, stream: TextIO | None
) -> dict[str, Any]:
    dest = work / file.filename
    expected = file.sha256 or recorded
    if expected is not None and dest.exists() and sha256_file(dest) == expected:
        digest = expected  # verified by an earlier, interrupted pull
    else:
        dest.unlink(missing_ok=True)
        if expected is None:
            log.warning(
                "!!! %s: the catalogue has no SHA-256 for %s; trusting what the server sends "
                "this once and recording its digest (trust on first use). Check it against "
                "the publisher before relying on it. !!!",
                spec.name,
                file.url,
            )
        label = f"{spec.name}: {file.filename}"
        digest = download_file(
            file.url, dest, expected, file.size, progress=Progress(label, stream)
        )
        if expected is None:
            log.warning("%s: recorded SHA-256 %s for %s", spec.name, digest, file.filename)
    return {
        "url": file.url,
        "filename": file.filename,
        "sha256": digest,
        "pinned": file.sha256 is not None,
    }


def _install(
    spec: ModelSpec, models_dir: Path, work: Path, downloads: list[dict[str, Any]]
) -> None:
    staged = Path(tempfile.mkdtemp(prefix=f"{spec.name}.staging-", dir=work.parent))
    try:
        files: dict[str, str] = {}
        for file, source in zip(spec.files, downloads, strict=True):
            if file.is_archive:
                unpack(work / file.filename, staged)
            else:
                os.replace(work / file.filename, staged / file.filename)
                files[file.filename] = source["sha256"]
        if not (staged / spec.path).exists():
            raise DownloadError(f"{spec.name}: the download has no {spec.path}")
        for path in sorted(p for p in staged.rglob("*") if p.is_file()):
            rel = path.relative_to(staged).as_posix()
            files.setdefault(rel, sha256_file(path))
        manifest = {
            "name": spec.name,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "path": spec.path,
            "downloads": downloads,
            "files": files,
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap_into_place(staged, spec.directory(models_dir))
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _swap_into_place(staged: Path, target: Path) -> None:
    staged.chmod(0o755)  # mkdtemp makes 0700; the service user must read a root-pulled model
    if not target.exists():
        os.rename(staged, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f"{target.name}.old-", dir=staged.parent))
    os.rename(target, old / target.name)
    os.rename(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def unpack(archive: Path, into: Path) -> None:
    """Unpack a .zip or .tar.gz, refusing absolute paths, `..` and links (path traversal)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                is_link = stat.S_ISLNK(info.external_attr >> 16)
                if not _safe_member(info.filename) or is_link:
                    raise DownloadError(f"{archive.name}: unsafe member {info.filename!r}")
            zf.extractall(into)
        return
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        for member in members:
            if not _safe_member(member.name) or not (member.isfile() or member.isdir()):
                raise DownloadError(f"{archive.name}: unsafe member {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tf.extractall(into, members, filter="data")
        else:  # Python < 3.11.4; members were checked above
            tf.extractall(into, members)


def verify(spec: ModelSpec, models_dir: Path) -> list[str]:
    """Problems with an installed model (empty: every file matches its recorded digest)."""
    target = spec.directory(models_dir)
    if not target.exists():
        return ["not installed"]
    manifest = read_manifest(target)
    if manifest is None:
        return [f"{target / MANIFEST} is missing or unreadable (pull it again with --force)"]
    problems = []
    for file in spec.files:  # the install must match today's catalogue, not only itself
        recorded = _recorded_sha(manifest, file.filename)
        if file.sha256 is not None and recorded != file.sha256:
            problems.append(
                f"{file.filename} was installed with SHA-256 {recorded}, "
                f"the catalogue says {file.sha256}"
            )
    for rel, expected in sorted(manifest.get("files", {}).items()):
        path = target / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif sha256_file(path) != expected:
            problems.append(f"{rel} has changed (SHA-256 differs from the recorded {expected})")
    if not spec.installed_path(models_dir).exists():
        problems.append(f"{spec.path} is missing")
    return problems


def trusted_on_first_use(spec: ModelSpec, models_dir: Path) -> bool:
    manifest = read_manifest(spec.directory(models_dir)) or {}
    return any(not s.get("pinned", True) for s in manifest.get("downloads", []))
