"""`rtvi-edge models list | pull NAME | verify [NAME]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rtvi_edge.models.catalogue import ModelSpec, catalogue, default_models_dir
from rtvi_edge.models.download import DownloadError
from rtvi_edge.models.store import is_partial, pull, trusted_on_first_use, verify

# Which config key takes the model, per kind.
_CONFIG_KEY = {"stt": ("stt", "model"), "llm": ("llm", "model"), "tts": ("tts", "voice")}


def add_models_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dir",
        type=Path,
        help="models directory (default: $STATE_DIRECTORY/models, else "
        "~/.local/state/rtvi-edge/models)",
    )
    models = subparsers.add_parser("models", help="list, download and verify models")
    sub = models.add_subparsers(dest="models_command", required=True)
    sub.add_parser("list", parents=[common], help="the catalogue and what is installed")
    pull_p = sub.add_parser("pull", parents=[common], help="download, check and install a model")
    pull_p.add_argument("name")
    pull_p.add_argument("--force", action="store_true", help="download again even if installed")
    pull_p.add_argument(
        "--base-url",
        help="fetch the files from <URL>/<filename> (a mirror; default: "
        "$RTVI_EDGE_MODELS_BASE_URL, else the publishers)",
    )
    verify_p = sub.add_parser("verify", parents=[common], help="re-check installed models")
    verify_p.add_argument("name", nargs="?", help="one model (default: every installed one)")


def run_models(args: argparse.Namespace) -> int:
    models_dir: Path = args.dir or default_models_dir()
    specs = catalogue(getattr(args, "base_url", None))
    try:
        if args.models_command == "list":
            return _list(specs, models_dir)
        if args.models_command == "pull":
            return _pull(specs, args.name, models_dir, args.force)
        return _verify(specs, args.name, models_dir)
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _spec(specs: dict[str, ModelSpec], name: str) -> ModelSpec | None:
    spec = specs.get(name)
    if spec is None:
        print(
            f"error: no model {name!r} in the catalogue; known: {', '.join(specs)}", file=sys.stderr
        )
    return spec


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _list(specs: dict[str, ModelSpec], models_dir: Path) -> int:
    print(f"models directory: {models_dir}")
    print(f"{'NAME':<28} {'KIND':<4} {'ENGINE':<6} {'SIZE':>7}  {'STATUS':<13} DESCRIPTION")
    for spec in specs.values():
        if spec.directory(models_dir).exists():
            status = "installed"
        elif is_partial(spec, models_dir):
            status = "partial"
        else:
            status = "-"
        print(
            f"{spec.name:<28} {spec.kind:<4} {spec.engine:<6} {_size(spec.size):>7}  "
            f"{status:<13} {spec.description}"
        )
    return 0


def _pull(specs: dict[str, ModelSpec], name: str, models_dir: Path, force: bool) -> int:
    spec = _spec(specs, name)
    if spec is None:
        return 2
    path = pull(spec, models_dir, force=force)
    section, key = _CONFIG_KEY[spec.kind]
    print(f"installed {spec.name} at {path}")
    print(f'use it with: [{section}] engine = "{spec.engine}", {key} = "{path}"')
    return 0


def _verify(specs: dict[str, ModelSpec], name: str | None, models_dir: Path) -> int:
    if name is not None:
        spec = _spec(specs, name)
        if spec is None:
            return 2
        chosen = [spec]
    else:
        chosen = [s for s in specs.values() if s.directory(models_dir).exists()]
        if not chosen:
            print(f"no models installed in {models_dir}")
            return 0
    failed = 0
    for spec in chosen:
        problems = verify(spec, models_dir)
        if problems:
            failed += 1
            print(f"FAILED {spec.name}: " + "; ".join(problems))
        elif trusted_on_first_use(spec, models_dir):
            print(f"ok     {spec.name} (matches the digest recorded on first use)")
        else:
            print(f"ok     {spec.name}")
    return 1 if failed else 0
