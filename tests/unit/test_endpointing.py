from rtvi_edge.pipeline.endpointing import Endpointer, EndpointParams, Signal

FRAME = 0.032


def feed(ep: Endpointer, probs: list[float]) -> list[Signal]:
    out: list[Signal] = []
    for p in probs:
        out += ep.feed(p, FRAME)
    return out


def test_speech_then_silence_starts_pauses_and_ends() -> None:
    ep = Endpointer(EndpointParams(threshold=0.5, start_secs=0.06, stop_secs=0.3, pause_secs=0.1))
    assert feed(ep, [0.9] * 10 + [0.0] * 12) == [Signal.STARTED, Signal.PAUSED, Signal.ENDED]
    assert ep.state == "quiet"


def test_speech_resuming_in_the_pause_is_one_utterance() -> None:
    ep = Endpointer(EndpointParams(start_secs=0.06, stop_secs=0.3, pause_secs=0.1))
    signals = feed(ep, [0.9] * 5 + [0.0] * 5 + [0.9] * 5 + [0.0] * 12)
    assert signals == [Signal.STARTED, Signal.PAUSED, Signal.RESUMED, Signal.PAUSED, Signal.ENDED]


def test_short_noise_never_starts() -> None:
    ep = Endpointer(EndpointParams(start_secs=0.2))
    assert feed(ep, [0.9, 0.9, 0.0, 0.9, 0.0] * 4) == []


def test_hysteresis_keeps_speech_going_through_dips() -> None:
    ep = Endpointer(EndpointParams(threshold=0.5, start_secs=0.03, pause_secs=0.1))
    assert feed(ep, [0.9, 0.9, 0.4, 0.4, 0.4, 0.4, 0.9]) == [Signal.STARTED]


def test_speech_seconds_are_counted() -> None:
    ep = Endpointer(EndpointParams(start_secs=0.03, stop_secs=0.2, pause_secs=0.1))
    feed(ep, [0.9] * 10 + [0.0] * 3)
    assert abs(ep.speech_secs - 10 * FRAME) < 1e-9
