"""Silence ALSA, JACK and PortAudio while probing sound devices.

PortAudio's start-up enumerates every ALSA PCM and tries a JACK server; on a
device without a sound card that prints ~65 lines to stderr per attempt, and
the supervisor retries forever: the journal filled at ~94 k lines a day.
Two layers: the libraries' own error hooks (libasound's
`snd_lib_error_set_handler`, libjack's error/info functions), set once to a
no-op, and fd 2 pointed at /dev/null for the short probe itself (for what the
libraries print with plain fprintf). What matters is still said: our own
AudioDeviceError names the problem.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.RLock()
_depth = 0
_saved_fd: int | None = None
_hooks: list[Any] = []  # the ctypes callbacks must outlive the libraries' use of them


def _install_hooks() -> None:
    if _hooks:
        return
    _hooks.append(None)  # once, even if nothing below loads
    alsa = _load("asound")
    if alsa is not None:
        # void handler(const char *file, int line, const char *func, int err, const char *fmt, ...)
        handler_t = ctypes.CFUNCTYPE(
            None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
        )
        handler = handler_t(lambda *_: None)
        alsa.snd_lib_error_set_handler(handler)
        _hooks.append(handler)
    jack = _load("jack")
    if jack is not None:
        message_t = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
        quiet = message_t(lambda _msg: None)
        for name in ("jack_set_error_function", "jack_set_info_function"):
            setter = getattr(jack, name, None)
            if setter is not None:
                setter(quiet)
        _hooks.append(quiet)


def _load(name: str) -> ctypes.CDLL | None:
    path = ctypes.util.find_library(name)
    if path is None:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


@contextlib.contextmanager
def quiet_sound_libraries() -> Iterator[None]:
    """While inside: native stderr goes nowhere (nested and thread-safe)."""
    global _depth, _saved_fd
    with _lock:
        try:
            _install_hooks()
        except (OSError, AttributeError, TypeError) as exc:  # an odd libasound: fd 2 still helps
            log.debug("could not hook the sound libraries' messages: %s", exc)
        if _depth == 0:
            with contextlib.suppress(ValueError, OSError):
                sys.stderr.flush()
            try:
                saved = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
                _saved_fd = saved
            except OSError:
                _saved_fd = None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _saved_fd = None


def sound_devices_signature() -> tuple[str, ...]:
    """The sound device nodes present now; a change means a card came or went."""
    try:
        return tuple(sorted(os.listdir("/dev/snd")))
    except OSError:
        return ()
