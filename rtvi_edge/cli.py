"""The `rtvi-edge` command: run, check-config, devices, transcribe, say, chat, models."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from rtvi_edge import __version__
from rtvi_edge.config import Config, LogLevel, load_config, load_config_file
from rtvi_edge.errors import ConfigError, RtviEdgeError
from rtvi_edge.memory import tune_malloc

log = logging.getLogger("rtvi_edge")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rtvi-edge", description="On-device voice assistant daemon")
    p.add_argument("--version", action="version", version=f"rtvi-edge {__version__}")
    _add_common(p, default=None)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the daemon")
    chk = sub.add_parser("check-config", help="validate a config file and exit")
    chk.add_argument("path", nargs="?")
    sub.add_parser("devices", help="list sound devices")
    tok = sub.add_parser("token", help="print the pairing token for RTVI clients")
    tok.add_argument(
        "--new", action="store_true", help="make a new one (the old one stops working)"
    )
    tr = sub.add_parser("transcribe", help="print the text of a WAV file")
    tr.add_argument("wav", type=Path)
    say = sub.add_parser("say", help="speak text into a WAV file")
    say.add_argument("text")
    say.add_argument("--out", type=Path, required=True)
    chat = sub.add_parser("chat", help="typed turns through the same pipeline")
    chat.add_argument("--speak", action="store_true", help="also speak answers (local audio)")
    chat.add_argument("message", nargs="*", help="one message to send (else read stdin)")
    try:
        from rtvi_edge.models.commands import add_models_parser

        add_models_parser(sub)
    except ImportError:  # pragma: no cover - part of the package
        pass
    # `rtvi-edge run --config FILE` as well as `rtvi-edge --config FILE run`
    for command in sub.choices.values():
        _add_common(command, default=argparse.SUPPRESS)
    return p


def _add_common(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument(
        "--config",
        default=default,
        help="config file (default: $RTVI_EDGE_CONFIG, then "
        "/etc/rtvi-edge/config.toml, else built-in defaults)",
    )
    p.add_argument("--log-level", default=default, choices=[str(level) for level in LogLevel])


def _setup_logging(config: Config, override: str | None) -> None:
    level = override or config.log.level
    try:
        from rtvi_edge.logs import setup_logging

        setup_logging(level, config.log.journald)
    except ImportError:  # pragma: no cover
        logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    tune_malloc()  # before any engine allocates: freed working memory goes straight back
    try:
        if args.command == "check-config":
            return _check_config(args.path or args.config)
        config, path = load_config(args.config)
    except ConfigError as exc:
        if args.command == "models" and not args.config:
            # `models` only needs the models folder; the system config may be unreadable
            # to a normal user (mode 0640). It falls back to the defaults.
            config, path = Config(), None
        else:
            for problem in exc.problems:
                print(f"config error: {problem}", file=sys.stderr)
            return 2
    _setup_logging(config, args.log_level)
    try:
        return _dispatch(args, config, path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    except RtviEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, config: Config, path: Path | None) -> int:
    if args.command == "run":
        from rtvi_edge.daemon import run_daemon

        return asyncio.run(run_daemon(config, path))
    if args.command == "devices":
        return _devices()
    if args.command == "token":
        from rtvi_edge.rtvi.security import print_token

        return print_token(config, args.new)
    if args.command == "transcribe":
        return _transcribe(config, args.wav)
    if args.command == "say":
        return _say(config, args.text, args.out)
    if args.command == "chat":
        from rtvi_edge.chat import run_chat

        return asyncio.run(run_chat(config, args.message, args.speak))
    if args.command == "models":
        from rtvi_edge.config import default_state_dir
        from rtvi_edge.models.commands import run_models

        if getattr(args, "dir", None) is None:
            args.dir = default_state_dir(config) / "models"  # where the engines look
        return int(run_models(args))
    raise AssertionError(args.command)


def _check_config(path: str | None) -> int:
    if path is None:
        _config, found = load_config(None)
        print(f"ok: {found or 'built-in defaults'}")
        return 0
    try:
        from rtvi_edge.engines.stages import check_lan_servers

        check_lan_servers(load_config_file(Path(path)))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    print(f"ok: {path}")
    return 0


def _devices() -> int:
    from rtvi_edge.audio.pyaudio_io import list_devices

    devices = list_devices()
    if not devices:
        print("no sound devices found (is a sound card connected? is the user in group 'audio'?)")
        return 0
    print(f"{'idx':>3}  {'in':>2} {'out':>3} {'rate':>6}  name")
    for d in devices:
        print(
            f"{d['index']:>3}  {d['maxInputChannels']:>2} {d['maxOutputChannels']:>3} "
            f"{int(d['defaultSampleRate']):>6}  {d['name']}"
        )
    return 0


def _transcribe(config: Config, wav: Path) -> int:
    from rtvi_edge.audio.wav import read_wav
    from rtvi_edge.engines.hub import build_stt

    pcm = read_wav(wav, 16000)
    stream = build_stt(config).open_stream()
    stream.feed(pcm)
    print(stream.finish())
    return 0


def _say(config: Config, text: str, out: Path) -> int:
    from rtvi_edge.audio.wav import write_wav
    from rtvi_edge.engines.hub import build_tts

    tts = build_tts(config)
    pcm = b"".join(tts.synthesize(text, config.tts.speed))
    write_wav(out, pcm, tts.sample_rate)
    print(f"wrote {out} ({len(pcm) / 2 / tts.sample_rate:.2f} s at {tts.sample_rate} Hz)")
    return 0
