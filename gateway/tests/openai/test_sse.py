from __future__ import annotations

from gpuchat.openai.sse import FrameSplitter


def test_splitter_returns_whole_frames_across_arbitrary_cuts() -> None:
    stream = b'data: {"a": 1}\n\ndata: {"b": "\xed\x95\x9c"}\n\n: keep-alive\n\ndata: [DONE]\n\n'
    for cut in range(1, len(stream)):
        splitter = FrameSplitter()
        frames = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert b"".join(frames) == stream, cut
        assert splitter.pending == b""


def test_splitter_accepts_crlf_frames() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"data: x\r\n\r\ndata: y\r") == [b"data: x\n\n"]
    assert splitter.feed(b"\n\r\n") == [b"data: y\n\n"]


def test_splitter_hands_back_one_whole_frame_per_engine_write_and_skips_blank_ones() -> None:
    splitter = FrameSplitter()
    writes = [
        b'data: {"a": 1}\n\n',
        b"\n\n",
        b"x",
        b"\n",
        b"\n",
        b": ping\n\n",
        b"data: [DONE]\n\n",
    ]
    frames = [frame for write in writes for frame in splitter.feed(write)]
    assert frames == [b'data: {"a": 1}\n\n', b"x\n\n", b": ping\n\n", b"data: [DONE]\n\n"]
    assert splitter.pending == b""
