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


# -- the turn model: explicit states, one transition function, fake verdicts ----------
from dataclasses import replace  # noqa: E402

from rtvi_edge.pipeline.endpointing import Frame, State, TurnVerdict, Verdict  # noqa: E402

TURN = EndpointParams(
    start_secs=0.064,
    pause_secs=0.064,
    stop_secs=0.35,
    turn_model=True,
    turn_threshold=0.7,
    turn_hold_threshold=0.5,
    turn_stop_secs=0.128,
    turn_unsure_secs=0.35,
    turn_recheck_secs=0.0,
    turn_max_secs=1.0,
)


def run_frames(ep: Endpointer, probs: list[float]) -> list[Signal]:
    out: list[Signal] = []
    for p in probs:
        out += ep.step(Frame(p, FRAME))
    return out


def test_states_are_an_enum_walked_by_one_transition_function() -> None:
    ep = Endpointer(EndpointParams(start_secs=0.064, pause_secs=0.064, stop_secs=0.2))
    seen = [ep.state]
    for p in [0.9, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]:
        ep.step(Frame(p, FRAME))
        if ep.state is not seen[-1]:
            seen.append(ep.state)
    assert seen == [State.QUIET, State.STARTING, State.SPEAKING, State.PAUSED, State.QUIET]
    assert ep.state == "quiet"  # still compares with the old string names


def test_turn_model_is_asked_after_its_silence_and_a_complete_verdict_ends_at_once() -> None:
    ep = Endpointer(TURN)
    signals = run_frames(ep, [0.9] * 6 + [0.0] * 4)  # 128 ms of silence
    assert signals == [Signal.STARTED, Signal.PAUSED, Signal.ASSESS]
    assert ep.asking and ep.verdict is Verdict.NONE
    assert ep.step(TurnVerdict(ep.pause_id, 0.95)) == [Signal.ENDED]
    assert ep.state is State.QUIET


def test_an_incomplete_turn_may_pause_long_without_ending() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    assert ep.step(TurnVerdict(ep.pause_id, 0.2)) == []
    # far beyond the fixed 0.35 s timeout, still inside the turn
    assert Signal.ENDED not in run_frames(ep, [0.0] * 20)  # 0.77 s of silence
    assert run_frames(ep, [0.9]) == [Signal.RESUMED]
    assert ep.state is State.SPEAKING


def test_an_incomplete_turn_ends_at_the_longest_silence() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.2))
    signals = run_frames(ep, [0.0] * 40)
    assert signals == [Signal.ENDED]
    assert abs(ep.silence_secs - 32 * FRAME) < 1e-9  # 1.0 s: turn_max_secs, one frame over


def test_a_late_verdict_from_an_earlier_pause_is_ignored() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    stale = ep.pause_id
    run_frames(ep, [0.9] * 3 + [0.0] * 2)  # speech resumed, a new pause
    assert ep.step(TurnVerdict(stale, 0.99)) == []
    assert ep.state is State.PAUSED


def test_a_complete_verdict_before_the_silence_waits_for_it() -> None:
    params = replace(TURN, turn_stop_secs=0.064)
    ep = Endpointer(params)
    assert run_frames(ep, [0.9] * 6 + [0.0] * 2)[-1] is Signal.ASSESS
    assert ep.step(TurnVerdict(ep.pause_id, 0.9)) == [Signal.ENDED]


def test_no_verdict_falls_back_to_the_fixed_timeout() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    assert ep.step(TurnVerdict(ep.pause_id, None)) == []
    assert ep.required_silence() == TURN.stop_secs
    signals = run_frames(ep, [0.0] * 7)  # 0.35 s in all
    assert signals == [Signal.ENDED]


def test_rechecks_while_the_turn_stays_incomplete() -> None:
    ep = Endpointer(replace(TURN, turn_recheck_secs=0.256))
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.1))
    assert run_frames(ep, [0.0] * 8) == [Signal.ASSESS]  # 0.128 + 0.256 s
    assert ep.step(TurnVerdict(ep.pause_id, 0.8)) == [Signal.ENDED]


def test_turn_model_off_keeps_the_fixed_timeout_and_never_asks() -> None:
    ep = Endpointer(EndpointParams(start_secs=0.064, pause_secs=0.064, stop_secs=0.35))
    signals = run_frames(ep, [0.9] * 6 + [0.0] * 11)
    assert signals == [Signal.STARTED, Signal.PAUSED, Signal.ENDED]


def test_an_unsure_verdict_ends_after_the_unsure_silence() -> None:
    ep = Endpointer(replace(TURN, turn_unsure_secs=0.256))
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    assert ep.step(TurnVerdict(ep.pause_id, 0.6)) == []  # between hold (0.5) and end (0.7)
    assert ep.verdict is Verdict.UNSURE
    assert run_frames(ep, [0.0] * 4) == [Signal.ENDED]  # 0.256 s in all


def test_a_recheck_can_turn_unsure_into_unfinished() -> None:
    ep = Endpointer(replace(TURN, turn_unsure_secs=0.256, turn_recheck_secs=0.064))
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.6))
    assert run_frames(ep, [0.0] * 2) == [Signal.ASSESS]
    ep.step(TurnVerdict(ep.pause_id, 0.1))  # unfinished after all: hold on
    assert ep.verdict is Verdict.INCOMPLETE
    assert Signal.ENDED not in run_frames(ep, [0.0] * 4)


def test_a_verdict_that_comes_too_late_never_makes_the_user_wait_longer() -> None:
    ep = Endpointer(replace(TURN, turn_unsure_secs=0.256, turn_grace_secs=0.0))
    assert run_frames(ep, [0.9] * 6 + [0.0] * 4)[-1] is Signal.ASSESS  # asked at 0.128 s
    assert run_frames(ep, [0.0] * 4) == [Signal.ENDED]  # no verdict by 0.256 s: ends
    assert ep.step(TurnVerdict(ep.pause_id, 0.01)) == []  # the late verdict is ignored


def test_a_verdict_on_its_way_is_waited_for_at_most_the_grace() -> None:
    params = replace(TURN, turn_unsure_secs=0.256, turn_grace_secs=0.128)
    ep = Endpointer(params)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)  # asked at 0.128 s
    assert run_frames(ep, [0.0] * 5) == []  # 0.288 s: past unsure, the verdict is awaited
    assert ep.step(TurnVerdict(ep.pause_id, 0.01)) == []  # unfinished: held
    assert ep.required_silence() == params.turn_max_secs
    late = Endpointer(params)
    run_frames(late, [0.9] * 6 + [0.0] * 4)
    assert run_frames(late, [0.0] * 8) == [Signal.ENDED]  # 0.384 s: unsure + grace


# -- the transcript's ending (TextCue) ---------------------------------------------------
from rtvi_edge.pipeline.endpointing import TextCue  # noqa: E402
from rtvi_edge.pipeline.text_cue import TextEnd  # noqa: E402


def test_an_open_transcript_holds_the_turn_even_when_the_model_says_complete() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 3)
    assert ep.step(TextCue(ep.pause_id, TextEnd.OPEN)) == []  # "set a timer for"
    run_frames(ep, [0.0])
    assert ep.step(TurnVerdict(ep.pause_id, 0.95)) == []
    assert ep.required_silence() == TURN.turn_max_secs
    assert Signal.ENDED not in run_frames(ep, [0.0] * 20)
    assert run_frames(ep, [0.9]) == [Signal.RESUMED]  # "… ten minutes"


def test_a_closed_transcript_turns_an_unfinished_verdict_into_unsure() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.01))  # "What is 2 plus 2?" heard as unfinished
    assert ep.required_silence() == TURN.turn_max_secs
    ep.step(TextCue(ep.pause_id, TextEnd.CLOSED))
    assert ep.required_silence() == TURN.turn_unsure_secs
    assert Signal.ENDED in run_frames(ep, [0.0] * 8)


def test_a_closed_transcript_late_in_a_long_pause_ends_it_at_once() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.01))
    run_frames(ep, [0.0] * 10)  # past unsure_secs, held by the verdict
    assert ep.step(TextCue(ep.pause_id, TextEnd.CLOSED)) == [Signal.ENDED]


def test_text_cues_of_an_earlier_pause_or_with_text_off_change_nothing() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 4)
    stale = ep.pause_id
    run_frames(ep, [0.9] * 3 + [0.0] * 2)
    ep.step(TextCue(stale, TextEnd.OPEN))
    assert ep.text_end is TextEnd.UNKNOWN
    off = Endpointer(replace(TURN, turn_text=False))
    run_frames(off, [0.9] * 6 + [0.0] * 4)
    off.step(TurnVerdict(off.pause_id, 0.6))  # unsure
    off.step(TextCue(off.pause_id, TextEnd.OPEN))
    assert off.required_silence() == TURN.turn_unsure_secs


def test_speech_coming_back_forgets_the_text_cue() -> None:
    ep = Endpointer(TURN)
    run_frames(ep, [0.9] * 6 + [0.0] * 3)
    ep.step(TextCue(ep.pause_id, TextEnd.OPEN))
    run_frames(ep, [0.9] * 2 + [0.0] * 2)
    assert ep.text_end is TextEnd.UNKNOWN


def test_a_rising_verdict_shortens_an_unfinished_pause_with_a_hold_floor() -> None:
    # Under the floor the pause may last max_secs; between the floor and the hold
    # threshold the wait allowed shrinks towards unsure_secs as the verdict rises.
    graded = replace(TURN, turn_hold_floor=0.01, turn_recheck_secs=0.128)
    sure = Endpointer(graded)
    run_frames(sure, [0.9] * 6 + [0.0] * 4)
    sure.step(TurnVerdict(sure.pause_id, 0.005))
    assert sure.required_silence() == graded.turn_max_secs
    rising = Endpointer(graded)
    run_frames(rising, [0.9] * 6 + [0.0] * 4)
    rising.step(TurnVerdict(rising.pause_id, 0.005))
    run_frames(rising, [0.0] * 4)  # asked again
    rising.step(TurnVerdict(rising.pause_id, 0.3))  # still unfinished (< 0.5), less so
    assert rising.verdict is Verdict.INCOMPLETE
    assert graded.turn_unsure_secs < rising.required_silence() < graded.turn_max_secs
    assert Endpointer(TURN).params.turn_hold_floor == 0.0  # off: max_secs, as before
