"""The entities Home Assistant lists for the device beside its voice assistant: a media
player (announcements, TTS, volume) and the microphone mute switch. HA adds the
assist_satellite entity and the wake-word and pipeline selects by itself."""

from __future__ import annotations

from typing import Protocol

from aioesphomeapi.model import (
    EntityCategory,
    MediaPlayerCommand,
    MediaPlayerEntityFeature,
    MediaPlayerFormatPurpose,
    MediaPlayerState,
)

from rtvi_edge.homeassistant.messages import Message, pb

MEDIA_PLAYER_KEY = 1
MUTE_SWITCH_KEY = 2
MEDIA_FEATURES = (
    MediaPlayerEntityFeature.PLAY_MEDIA
    | MediaPlayerEntityFeature.STOP
    | MediaPlayerEntityFeature.VOLUME_SET
    | MediaPlayerEntityFeature.VOLUME_MUTE
    | MediaPlayerEntityFeature.MEDIA_ANNOUNCE
)


class Controls(Protocol):
    """What the entities change on the device (the satellite implements it)."""

    @property
    def volume(self) -> float: ...

    def set_volume(self, volume: float) -> None: ...

    @property
    def mic_muted(self) -> bool: ...

    def set_mic_muted(self, muted: bool) -> None: ...

    @property
    def media_state(self) -> MediaPlayerState: ...

    def play_media(self, url: str, announcement: bool) -> None: ...

    def stop_media(self) -> None: ...


def list_entities(output_rate: int) -> list[Message]:
    wav = pb.MediaPlayerSupportedFormat(
        format="wav",
        sample_rate=output_rate,
        num_channels=1,
        purpose=MediaPlayerFormatPurpose.ANNOUNCEMENT,
        sample_bytes=2,
    )
    return [
        pb.ListEntitiesMediaPlayerResponse(
            object_id="media_player",
            key=MEDIA_PLAYER_KEY,
            name="Media player",
            supports_pause=False,
            feature_flags=MEDIA_FEATURES,
            supported_formats=[
                wav,
                pb.MediaPlayerSupportedFormat(
                    format="wav",
                    sample_rate=output_rate,
                    num_channels=1,
                    purpose=MediaPlayerFormatPurpose.DEFAULT,
                    sample_bytes=2,
                ),
            ],
        ),
        pb.ListEntitiesSwitchResponse(
            object_id="mute",
            key=MUTE_SWITCH_KEY,
            name="Mute microphone",
            icon="mdi:microphone-off",
            entity_category=EntityCategory.CONFIG,
        ),
    ]


def states(controls: Controls) -> list[Message]:
    return [
        pb.MediaPlayerStateResponse(
            key=MEDIA_PLAYER_KEY,
            state=controls.media_state,
            volume=min(1.0, controls.volume),
            muted=controls.volume == 0.0,
        ),
        pb.SwitchStateResponse(key=MUTE_SWITCH_KEY, state=controls.mic_muted),
    ]


def command(msg: Message, controls: Controls) -> str | None:
    """Apply an entity command; None when done, else why it was refused."""
    if isinstance(msg, pb.SwitchCommandRequest):
        if msg.key != MUTE_SWITCH_KEY:
            return f"no switch with key {msg.key}"
        controls.set_mic_muted(msg.state)
        return None
    if not isinstance(msg, pb.MediaPlayerCommandRequest):
        return f"{type(msg).__name__} is not supported by this device"
    if msg.key != MEDIA_PLAYER_KEY:
        return f"no media player with key {msg.key}"
    if msg.has_volume:
        controls.set_volume(max(0.0, min(1.0, msg.volume)))
    if msg.has_media_url:
        controls.play_media(msg.media_url, msg.has_announcement and msg.announcement)
    if msg.has_command:
        if msg.command == MediaPlayerCommand.STOP:
            controls.stop_media()
        elif msg.command == MediaPlayerCommand.MUTE:
            controls.set_volume(0.0)
        elif msg.command == MediaPlayerCommand.UNMUTE:
            controls.set_volume(1.0)
        else:
            return f"media player command {msg.command} is not supported"
    return None
