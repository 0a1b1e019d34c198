"""The hand-written codec against the real protobuf runtime, built from frames.proto."""

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from rtvi_edge.errors import ProtocolError
from rtvi_edge.rtvi import frames

F = descriptor_pb2.FieldDescriptorProto


def _frame_class() -> type:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="frames_test.proto", package="pipecat", syntax="proto3"
    )

    def msg(name: str, fields: list[tuple[str, int, int, str]]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, num, ftype, tname in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=F.LABEL_OPTIONAL)
            if tname:
                f.type_name = tname

    msg(
        "TextFrame",
        [
            ("id", 1, F.TYPE_UINT64, ""),
            ("name", 2, F.TYPE_STRING, ""),
            ("text", 3, F.TYPE_STRING, ""),
        ],
    )
    msg(
        "AudioRawFrame",
        [
            ("id", 1, F.TYPE_UINT64, ""),
            ("name", 2, F.TYPE_STRING, ""),
            ("audio", 3, F.TYPE_BYTES, ""),
            ("sample_rate", 4, F.TYPE_UINT32, ""),
            ("num_channels", 5, F.TYPE_UINT32, ""),
            ("pts", 6, F.TYPE_UINT64, ""),
        ],
    )
    msg("MessageFrame", [("data", 1, F.TYPE_STRING, "")])
    frame = fdp.message_type.add(name="Frame")
    frame.oneof_decl.add(name="frame")
    for fname, num, tname in [
        ("text", 1, ".pipecat.TextFrame"),
        ("audio", 2, ".pipecat.AudioRawFrame"),
        ("message", 4, ".pipecat.MessageFrame"),
    ]:
        frame.field.add(
            name=fname,
            number=num,
            type=F.TYPE_MESSAGE,
            type_name=tname,
            label=F.LABEL_OPTIONAL,
            oneof_index=0,
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("pipecat.Frame"))


Frame = _frame_class()


def test_our_audio_frame_parses_with_protobuf() -> None:
    pcm = bytes(range(256)) * 8
    parsed = Frame.FromString(frames.encode_audio(pcm, 24000, 1))
    assert parsed.WhichOneof("frame") == "audio"
    assert parsed.audio.audio == pcm and parsed.audio.sample_rate == 24000
    assert parsed.audio.num_channels == 1


def test_our_message_frame_parses_with_protobuf() -> None:
    parsed = Frame.FromString(frames.encode_message('{"label":"rtvi-ai","type":"x"} é'))
    assert parsed.message.data == '{"label":"rtvi-ai","type":"x"} é'


def test_client_frames_from_protobuf_decode() -> None:
    f = Frame()
    f.audio.id = 7
    f.audio.name = "audio"
    f.audio.audio = b"\x01\x00" * 256
    f.audio.sample_rate = 16000
    f.audio.num_channels = 1
    f.audio.pts = 123456789
    assert frames.decode_frame(f.SerializeToString()) == frames.AudioFrame(
        b"\x01\x00" * 256, 16000, 1
    )
    m = Frame()
    m.message.data = "hello"
    assert frames.decode_frame(m.SerializeToString()) == frames.MessageFrame("hello")
    t = Frame()
    t.text.text = "hi"
    assert frames.decode_frame(t.SerializeToString()) == frames.OtherFrame("text")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"\x12\x10abc",
        b"\x22\x05\x0a\x09ab",
        b"\x08" + b"\xff" * 11,
        b"\x07",
        b"\x22\x02\x0a\x01",
    ],
)
def test_malformed_bytes_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        frames.decode_frame(data)
