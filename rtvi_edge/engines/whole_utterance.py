"""An STT stream for engines that decode a whole utterance at once (LAN servers).

The listener feeds audio as it comes and may ask for the text more than once (the
speculative answer at a pause, then the final one): the same audio is decoded once.
"""

from __future__ import annotations

from collections.abc import Callable


class WholeUtteranceStream:
    def __init__(self, transcribe: Callable[[bytes], str]) -> None:
        self._transcribe = transcribe
        self._pcm = bytearray()
        self._done_len = -1
        self._text = ""

    def feed(self, pcm: bytes) -> None:
        self._pcm += pcm

    def partial(self) -> str:
        return ""  # no interim text: the utterance is decoded once, at its end

    def finish(self) -> str:
        if self._done_len != len(self._pcm):
            self._text = self._transcribe(bytes(self._pcm))
            self._done_len = len(self._pcm)
        return self._text
