"""The WebRTC audio path's latency rules, without a peer connection: the user's packets
go to the decoder as they arrive, and the bot's first frame of an answer leaves the
track at once instead of on its next 20 ms tick. The track runs on the media loop's
thread while the sink pushes and interrupts from the daemon's loop."""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from av import AudioFrame

from rtvi_edge.rtvi.webrtc.audio import FRAME_S, BotAudioTrack, ListeningBuffer, WebRtcSink
from rtvi_edge.rtvi.webrtc.media_loop import MediaLoop

SOUND_20_MS = b"\x10\x00" * 480  # at 24 kHz


def _loud(frame: object) -> bool:
    assert isinstance(frame, AudioFrame)
    return any(frame.to_ndarray().tobytes())


def _packet(seq: int, timestamp: int) -> RtpPacket:
    p = RtpPacket(payload_type=111, sequence_number=seq, timestamp=timestamp)
    p._data = bytes([seq % 256])  # type: ignore[attr-defined]
    return p


def test_each_packet_goes_on_as_it_arrives() -> None:
    buffer = ListeningBuffer()
    for seq in (65534, 65535, 0, 1):  # across the sequence number's wrap
        _, frame = buffer.add(_packet(seq, seq * 960))
        assert frame is not None and frame.data == bytes([seq % 256])


def test_a_late_or_repeated_packet_is_dropped_and_the_stream_goes_on() -> None:
    buffer = ListeningBuffer()
    assert buffer.add(_packet(10, 0))[1] is not None
    assert buffer.add(_packet(12, 1920))[1] is not None  # 11 lost (or late)
    assert buffer.add(_packet(11, 960))[1] is None  # late: already past it
    assert buffer.add(_packet(12, 1920))[1] is None  # a duplicate
    assert buffer.add(_packet(13, 2880))[1] is not None


def test_a_sender_that_starts_over_is_followed() -> None:
    buffer = ListeningBuffer()
    buffer.add(_packet(5000, 0))
    _, frame = buffer.add(_packet(100, 0))  # far behind: a new stream, not a late packet
    assert frame is not None


async def test_silence_keeps_its_20_ms_ticks() -> None:
    track = BotAudioTrack(24000)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(4):
        await track.recv()
    assert loop.time() - began >= 3 * FRAME_S - 0.001  # never ahead of the clock
    track.stop()


async def test_the_first_frame_of_an_answer_does_not_wait_for_its_tick() -> None:
    track = BotAudioTrack(24000)
    await track.recv()  # the clock starts
    track._sent += 500  # the next tick is 10 s away: silence would wait for it
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.01)
    assert not pending.done()
    track.push(b"\x10\x00" * 480)  # 20 ms of sound
    frame = await asyncio.wait_for(pending, 5)
    assert isinstance(frame, AudioFrame)
    assert any(frame.to_ndarray().tobytes())
    track.stop()


async def test_sound_already_queued_keeps_its_ticks() -> None:
    track = BotAudioTrack(24000)
    await track.recv()
    track.push(b"\x10\x00" * 4800)  # 200 ms queued
    track._sent += 500
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.05)
    track.push(b"\x10\x00" * 480)
    await asyncio.sleep(0.05)
    assert not pending.done()  # paced: more sound is no reason to go early
    pending.cancel()
    track.stop()


async def test_a_push_from_the_daemons_loop_wakes_the_track_on_the_media_loop(
    media: MediaLoop,
) -> None:
    track = BotAudioTrack(24000)
    await media.run(track.recv())  # the clock starts, on the media loop
    track._sent += 500  # the next tick is 10 s away
    pending = asyncio.ensure_future(media.run(track.recv()))
    await asyncio.sleep(0.05)
    assert not pending.done()
    track.push(SOUND_20_MS)
    assert _loud(await asyncio.wait_for(pending, 5))
    track.stop()


async def test_an_interruption_from_the_daemons_loop_silences_the_next_frame(
    media: MediaLoop,
) -> None:
    track = BotAudioTrack(24000)
    track.push(SOUND_20_MS * 50)  # a second of answer
    assert _loud(await media.run(track.recv()))
    await track_discarded(track)
    assert track.queued() == 0
    assert not _loud(await media.run(track.recv()))
    track.stop()


async def track_discarded(track: BotAudioTrack) -> None:
    await WebRtcSink(lambda: track, 24000).discard()


async def test_the_sink_is_paced_by_the_frames_the_media_loop_takes(media: MediaLoop) -> None:
    track = BotAudioTrack(24000)
    sink = WebRtcSink(lambda: track, 24000)
    taken = 0

    async def sender() -> None:  # what aiortc's RTP sender does with the track
        nonlocal taken
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            taken += 1

    sending = asyncio.ensure_future(media.run(sender()))
    await asyncio.sleep(0.05)
    before = taken
    await sink.play(SOUND_20_MS * 25)  # half a second
    assert sink.buffered() <= sink.LEAD_S + FRAME_S  # it waited for the sender
    assert taken - before >= (0.5 - sink.LEAD_S - FRAME_S) / FRAME_S - 1
    await sink.discard()
    assert sink.buffered() == 0
    track.stop()
    await asyncio.wait_for(sending, 5)  # a stopped track ends its sender
