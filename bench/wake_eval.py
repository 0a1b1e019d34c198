"""Wake-word accuracy on generated speech: misses on spoken wake words (several
voices and speeds), false accepts per hour on ordinary speech."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from rtvi_edge.audio.wake import WakeWordDetector
from rtvi_edge.audio.wav import read_wav

PHRASES = {
    "okay_nabu": ["okay nabu", "ok nabu", "okay, nabu"],
    "hey_jarvis": ["hey jarvis", "hey, jarvis"],
    "hey_mycroft": ["hey mycroft", "hey, mycroft"],
    "alexa": ["alexa"],
}
VOICES = ["en-us", "en", "en-us+m3", "en-us+f2", "en+m7", "en-us+f4"]
SPEEDS = [130, 160, 190]
NEGATIVES = [
    "What is the capital of France?",
    "Set a timer for ten minutes.",
    "I think we should go to the market tomorrow morning.",
    "The weather has been nice all week, but it might rain on Sunday.",
    "Can you turn on the kitchen light please?",
    "My neighbour has a new car.",
    "Okay, now we need to buy some bread and milk.",
    "Hey, did you see the game last night?",
    "Nobody knows where the keys are.",
    "A cup of tea would be lovely right now.",
    "The children are playing in the garden.",
    "Please remind me to call my mother.",
    "Alex and Sara are coming for dinner.",
    "Jars of jam are on the top shelf.",
    "Microsoft and Apple released new phones.",
    "Navigation says turn left in two miles.",
    "Okay, let's begin the meeting.",
    "Hey there, how are you doing today?",
]


def _wav(text: str, voice: str, speed: int, path: Path) -> bytes:
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path), "pad", "0.5", "0.5"],
        check=True,
    )
    return read_wav(path, 16000)


def _detects(detector: WakeWordDetector, pcm: bytes) -> int:
    hits = 0
    for i in range(0, len(pcm), 1024):
        hits += detector.process(pcm[i : i + 1024])
    detector.reset()
    return hits


def run(
    work: Path, models: tuple[str, ...] = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    negatives = [
        _wav(t, v, 160, work / f"neg{i}_{j}.wav")
        for i, t in enumerate(NEGATIVES)
        for j, v in enumerate(VOICES[:3])
    ]
    neg_secs = sum(len(p) for p in negatives) / 32000
    out: dict[str, Any] = {"negative_speech_secs": round(neg_secs, 1)}
    for model in models:
        detector = WakeWordDetector(model)
        positives = [
            (t, v, s, _wav(t, v, s, work / f"{model}_{k}.wav"))
            for k, (t, v, s) in enumerate(
                (t, v, s) for t in PHRASES[model] for v in VOICES for s in SPEEDS
            )
        ]
        missed = [
            f"{t} ({v}, {s} wpm)" for t, v, s, pcm in positives if not _detects(detector, pcm)
        ]
        false = sum(_detects(detector, pcm) for pcm in negatives)
        out[model] = {
            "positives": len(positives),
            "detected": round(1 - len(missed) / len(positives), 3),
            "false_accepts": false,
            "false_accepts_per_hour": round(false / neg_secs * 3600, 1),
            "missed_examples": missed[:5],
        }
    return out
