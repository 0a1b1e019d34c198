"""SmallWebRTC's signalling, sans I/O: what the HTTP bodies and data-channel messages mean.

pipecat's wire (pipecat/transports/smallwebrtc/): `POST /api/offer` takes
`{sdp, type, pc_id?, restart_pc?, requestData?}` and answers `{sdp, type, pc_id}`;
`PATCH /api/offer` takes `{pc_id, candidates: [{candidate, sdp_mid, sdp_mline_index}]}`.
On the data channel: `"ping: <ms>"` keep-alives, `{"type": "signalling", "message":
{...}}` (trackStatus in; renegotiate and peerLeft out), everything else an RTVI
message as JSON text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rtvi_edge.errors import ProtocolError

MAX_SDP_CHARS = 64 * 1024
MAX_CANDIDATE_CHARS = 512
AUDIO_RECEIVER = 0  # transceivers come in creation order: audio, video, screen
_PC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
# The address is an IP or a browser's mDNS name (*.local): never a name to look up.
_CANDIDATE = re.compile(
    r"(?:candidate:)?\S{1,32} \d{1,3} (?i:udp|tcp) \d{1,10} "
    r"(?:[0-9.]{7,15}|[0-9A-Fa-f.]{0,40}:[0-9A-Fa-f:.]{1,44}|[A-Za-z0-9-]{1,64}\.local)"
    r" \d{1,5} typ "
    r"(?:host|srflx|prflx|relay)(?: .{0,400})?"
)


class SignallingError(ProtocolError):
    """An offer or candidate the device cannot use; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Offer:
    sdp: str
    pc_id: str | None  # set: renegotiate that peer
    restart_pc: bool  # with pc_id: a new peer connection in place of the old one


@dataclass(frozen=True)
class Candidate:
    candidate: str  # the SDP a=candidate value, "" = end of candidates
    sdp_mid: str | None
    sdp_mline_index: int | None


def _pc_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _PC_ID.fullmatch(value):
        raise SignallingError(f"pc_id must be an id this device gave out, got {value!r:.40}")
    return value


def parse_offer(body: Any) -> Offer:
    if not isinstance(body, dict):
        raise SignallingError("the offer must be a JSON object {sdp, type, pc_id?}")
    sdp, kind = body.get("sdp"), body.get("type")
    if kind != "offer":
        raise SignallingError(f"type must be 'offer', got {kind!r:.40}")
    if not isinstance(sdp, str) or not sdp.strip():
        raise SignallingError("sdp must be the offer's SDP text")
    if len(sdp) > MAX_SDP_CHARS:
        raise SignallingError(f"sdp is over {MAX_SDP_CHARS} characters", 413)
    check_offer_sdp(sdp)
    restart = body.get("restart_pc", body.get("restartPc"))
    if restart is not None and not isinstance(restart, bool):
        raise SignallingError("restart_pc must be true or false")
    return Offer(sdp, _pc_id(body.get("pc_id", body.get("pcId"))), bool(restart))


def check_offer_sdp(sdp: str) -> None:
    """The shape a usable offer has, before aiortc sees it (its errors are not for users)."""
    lines = [line.strip() for line in sdp.splitlines()]
    if not lines or lines[0] != "v=0":
        raise SignallingError("sdp is not an SDP offer (it must start with v=0)")
    media = [line.split()[0][2:] for line in lines if line.startswith("m=") and line.split()]
    if "audio" not in media:
        raise SignallingError(
            "the offer has no audio: add an audio transceiver (sendrecv) before the offer"
        )
    if "application" not in media:
        raise SignallingError(
            "the offer has no data channel: create one before the offer (it carries RTVI)"
        )
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise SignallingError("the offer has no DTLS fingerprint")


def parse_candidates(body: Any, limit: int) -> tuple[str, list[Candidate]]:
    if not isinstance(body, dict):
        raise SignallingError("the body must be a JSON object {pc_id, candidates}")
    pc_id = _pc_id(body.get("pc_id", body.get("pcId")))
    if pc_id is None:
        raise SignallingError("pc_id is missing: send the offer first, then its candidates")
    raw = body.get("candidates")
    if not isinstance(raw, list):
        raise SignallingError("candidates must be a list")
    if len(raw) > limit:
        raise SignallingError(f"more than {limit} candidates", 413)
    return pc_id, [_candidate(c, i) for i, c in enumerate(raw)]


def _candidate(raw: Any, i: int) -> Candidate:
    where = f"candidates[{i}]"
    if not isinstance(raw, dict):
        raise SignallingError(f"{where} must be an object {{candidate, sdp_mid, sdp_mline_index}}")
    text = raw.get("candidate")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise SignallingError(f"{where}.candidate must be a string of candidate SDP")
    text = text.strip()
    if text.startswith("a="):
        text = text[2:]
    if text and not _CANDIDATE.fullmatch(text):
        raise SignallingError(f"{where}.candidate is not an ICE candidate: {text[:60]!r}")
    mid = raw.get("sdp_mid", raw.get("sdpMid"))
    index = raw.get("sdp_mline_index", raw.get("sdpMLineIndex"))
    if mid is not None and (not isinstance(mid, str) or len(mid) > 32):
        raise SignallingError(f"{where}.sdp_mid must be a short string")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise SignallingError(f"{where}.sdp_mline_index must be an integer")
    if index is not None and not 0 <= index < 64:
        raise SignallingError(f"{where}.sdp_mline_index is out of range")
    return Candidate(text, mid, index)


def audio_codec(sdp: str) -> str | None:
    """The codec of the first audio section (an answer's: the one both sides send), lower
    case, e.g. "opus"; None without one."""
    payload: str | None = None
    for line in sdp.splitlines():
        if payload is None:
            parts = line.split()
            if line.startswith("m=audio") and len(parts) > 3:
                payload = parts[3]
        elif line.startswith("m="):
            return None
        elif line.startswith(f"a=rtpmap:{payload} "):
            return line.split(" ", 1)[1].split("/", 1)[0].strip().lower()
    return None


# -- the data channel ------------------------------------------------------------------
@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class TrackStatus:
    receiver_index: int
    enabled: bool


@dataclass(frozen=True)
class RtviText:
    data: str | bytes


@dataclass(frozen=True)
class Unusable:
    why: str


ChannelMessage = Ping | TrackStatus | RtviText | Unusable


def classify(message: str | bytes) -> ChannelMessage:
    """One data-channel message: a keep-alive, signalling, or RTVI for the protocol core."""
    if isinstance(message, str) and message.startswith("ping"):
        return Ping()
    if isinstance(message, str) and '"signalling"' in message[:200]:
        try:
            obj = json.loads(message)
        except ValueError:
            return RtviText(message)  # the protocol core says what is wrong with it
        if isinstance(obj, dict) and obj.get("type") == "signalling":
            return _signalling(obj.get("message"))
    return RtviText(message)


def _signalling(inner: Any) -> ChannelMessage:
    if not isinstance(inner, dict):
        return Unusable("signalling message without a message object")
    if inner.get("type") == "trackStatus":
        index, enabled = inner.get("receiver_index"), inner.get("enabled")
        if isinstance(index, int) and isinstance(enabled, bool):
            return TrackStatus(index, enabled)
        return Unusable("trackStatus needs receiver_index (int) and enabled (bool)")
    return Unusable(f"unknown signalling message {str(inner.get('type'))[:40]!r}")


def signalling(kind: str) -> str:
    """What the device sends: 'renegotiate' or 'peerLeft'."""
    return json.dumps({"type": "signalling", "message": {"type": kind}})
