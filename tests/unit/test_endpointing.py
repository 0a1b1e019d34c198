from rtvi_edge.pipeline.endpointing import BargeIn, Endpointer, EndpointParams, Signal

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


def feed_barge(ep: Endpointer, probs: list[float], barge: BargeIn) -> list[Signal]:
    out: list[Signal] = []
    for p in probs:
        out += ep.feed(p, 0.032, barge)
    return out


def test_barge_in_needs_a_clearer_voice() -> None:
    barge = BargeIn(threshold=0.85, min_secs=0.2)
    # an echo residue: likely speech by the normal bar, never clear enough to interrupt
    assert feed_barge(Endpointer(EndpointParams()), [0.8] * 20, barge) == []


def test_barge_in_needs_more_speech_than_a_start() -> None:
    barge = BargeIn(threshold=0.85, min_secs=0.2, window_secs=0.5)
    burst = [0.95] * 5 + [0.1] * 20  # 160 ms: a normal start, too little to interrupt
    assert feed_barge(Endpointer(EndpointParams()), burst * 2, barge) == []
    assert feed(Endpointer(EndpointParams()), burst)[0] == Signal.STARTED
    # clicks and blips: a frame in four is speech
    blips = [0.95, 0.1, 0.1, 0.1] * 10
    assert feed_barge(Endpointer(EndpointParams()), blips, barge) == []


def test_barge_in_hears_a_voice_chopped_by_double_talk() -> None:
    # speech under a canceller's double-talk suppression: pieces, dips and gaps
    barge = BargeIn(threshold=0.85, min_secs=0.2, window_secs=0.5)
    voice = [0.9, 0.75, 0.2, 0.1, 0.88, 0.72, 0.3, 0.9, 0.8, 0.2, 0.86]
    ep = Endpointer(EndpointParams())
    assert feed_barge(ep, voice, barge) == [Signal.STARTED]
    assert abs(ep.onset_secs - 10 * 0.032) < 1e-9  # it began ten frames back
