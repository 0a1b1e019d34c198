"""A generated set of spoken turns for the end-of-turn benchmark (espeak-ng).

Each item is one sentence, in one of several voices and speeds, after a lead-in
of silence, either in one breath ("complete") or with a mid-sentence pause of
0.3–1.2 s at a word boundary ("paused": SSML <break>). The truth (where speech
starts, where the pause lies, where speech ends) is measured on the audio.

The set is split in two by sentence and voice: `calibration` (thresholds are
chosen on it) and `held_out` (numbers are reported on it); no sentence or voice
is in both.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.speech import speech_end, speech_start
from rtvi_edge.audio.wav import read_wav

RATE = 16000

SENTENCES = [
    # (text, the word after which a mid-sentence pause goes)
    ("What is the capital of France?", 4),
    ("Set a timer for ten minutes.", 4),
    ("How many legs does a spider have?", 3),
    ("Name a fruit that is yellow.", 3),
    ("Turn on the kitchen lights please.", 3),
    ("What is the weather like in London today?", 4),
    ("Can you tell me a short joke about cats?", 4),
    ("Remind me to call my mother tomorrow.", 3),
    ("Who wrote the play Romeo and Juliet?", 3),
    ("Play some relaxing music in the bedroom.", 3),
    ("How far away is the moon from the earth?", 4),
    ("What time does the bakery open on Sunday?", 4),
    ("Tell me how to make a cup of green tea.", 4),
    ("Is it going to rain this afternoon?", 4),
    ("What is the boiling point of water?", 4),
    ("Add milk and eggs to my shopping list.", 4),
]
VOICES = ["en-us", "en", "en-us+m3", "en+f3", "en-us+f2", "en+m7"]
SPEEDS = [140, 165, 185]
LEAD_INS = [0.3, 0.8, 2.0, 3.0]
PAUSES = [0.3, 0.5, 0.7, 0.9, 1.2]
TAIL_SECS = 2.5


@dataclass(frozen=True)
class TurnItem:
    name: str
    text: str
    voice: str
    speed: int
    lead_secs: float
    pause_secs: float  # 0: no mid-sentence pause
    split: str  # "calibration" or "held_out"
    wav: Path
    start: float = 0.0  # speech start, s into the file
    pause_at: float = 0.0  # the pause: from (end of the first part)
    resume_at: float = 0.0  # to (start of the second part)
    end: float = 0.0  # speech end


def _espeak(text: str, voice: str, speed: int, out: Path) -> None:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-m", "-v", voice, "-s", str(speed), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(out)],
        check=True,
        capture_output=True,
    )
    raw.unlink()


def _trimmed(path: Path) -> np.ndarray:
    pcm = read_wav(path, RATE)
    a = np.frombuffer(pcm, dtype=np.int16)
    return a[int(speech_start(pcm) * RATE) : int(speech_end(pcm) * RATE)]


def _with_pause(text: str, after_word: int, pause: float) -> tuple[str, str]:
    words = text.split()
    return " ".join(words[:after_word]), " ".join(words[after_word:])


def make_item(
    folder: Path,
    name: str,
    text: str,
    after_word: int,
    voice: str,
    speed: int,
    lead: float,
    pause: float,
    split: str,
) -> TurnItem:
    """Renders one item. A paused sentence is one SSML utterance with a <break>, so
    the first part keeps the intonation of a sentence that goes on."""
    wav = folder / f"{name}.wav"
    if pause > 0:
        first, rest = _with_pause(text, after_word, pause)
        ssml = f'<speak>{first} <break time="{int(pause * 1000)}ms"/> {rest}</speak>'
        _espeak(ssml, voice, speed, wav)
    else:
        _espeak(text, voice, speed, wav)
    speech = _trimmed(wav)
    audio = np.concatenate(
        [np.zeros(int(lead * RATE), np.int16), speech, np.zeros(int(TAIL_SECS * RATE), np.int16)]
    )
    import wave

    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(audio.tobytes())
    start, end = lead, lead + speech.size / RATE
    pause_at = resume_at = 0.0
    if pause > 0:
        pause_at, resume_at = _longest_gap(speech)
        pause_at, resume_at = lead + pause_at, lead + resume_at
    return TurnItem(
        name, text, voice, speed, lead, pause, split, wav, start, pause_at, resume_at, end
    )


def _longest_gap(speech: np.ndarray) -> tuple[float, float]:
    block = RATE // 100
    n = speech.size // block
    rms = np.sqrt(np.mean(speech[: n * block].astype(np.float32).reshape(n, block) ** 2, axis=1))
    loud = np.nonzero(rms > 32768 * 10 ** (-40 / 20))[0]
    gaps = np.diff(loud)
    i = int(np.argmax(gaps))
    return (loud[i] + 1) * block / RATE, loud[i + 1] * block / RATE


def build(folder: Path | None = None, per_split: int = 40, seed: int = 15) -> list[TurnItem]:
    """`per_split` items in each split, half of them with a mid-sentence pause."""
    folder = folder or Path(tempfile.mkdtemp(prefix="turn-set-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    half = len(SENTENCES) // 2
    splits = {
        "calibration": (SENTENCES[:half], VOICES[::2]),
        "held_out": (SENTENCES[half:], VOICES[1::2]),
    }
    items: list[TurnItem] = []
    for split, (sentences, voices) in splits.items():
        for i in range(per_split):
            text, after = sentences[(i // 2) % len(sentences)]
            pause = rng.choice(PAUSES) if i % 2 else 0.0
            items.append(
                make_item(
                    folder,
                    f"{split}-{i:02d}",
                    text,
                    after,
                    rng.choice(voices),
                    rng.choice(SPEEDS),
                    rng.choice(LEAD_INS),
                    pause,
                    split,
                )
            )
    return items
