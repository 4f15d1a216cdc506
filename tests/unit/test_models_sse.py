"""Server-sent events as the providers send them, split anywhere by the network."""

from wasm_agent.models.sse import ServerSentEvent, SSEParser, iter_events

STREAM = ('event: message_start\ndata: {"a": 1}\n\n'
          ': keep-alive comment\n\n'
          'data: first line\ndata: second line\n\n'
          'data:no-space\n\n'
          'data: [DONE]\n\n').encode()


def parse_in_pieces(data: bytes, size: int) -> list[ServerSentEvent]:
    parser = SSEParser()
    events = []
    for start in range(0, len(data), size):
        events += parser.feed(data[start:start + size])
    return events


def test_events_are_the_same_however_the_stream_is_split():
    whole = parse_in_pieces(STREAM, len(STREAM))
    assert [(e.event, e.data) for e in whole] == [
        ("message_start", '{"a": 1}'), ("message", "first line\nsecond line"),
        ("message", "no-space"), ("message", "[DONE]")]
    for size in (1, 2, 3, 7, 64):
        assert parse_in_pieces(STREAM, size) == whole


def test_crlf_and_cr_line_endings_are_accepted():
    for ending in ("\r\n", "\r"):
        data = f"event: ping{ending}data: x{ending}{ending}".encode()
        assert parse_in_pieces(data, 1) == [ServerSentEvent("ping", "x")]


def test_a_character_split_between_chunks_is_decoded_whole():
    data = 'data: {"text": "héllo → 世界"}\n\n'.encode()
    assert parse_in_pieces(data, 1)[0].data == '{"text": "héllo → 世界"}'


def test_event_name_resets_after_each_event_and_id_is_kept():
    data = b"event: a\nid: 7\ndata: 1\n\ndata: 2\n\n"
    assert parse_in_pieces(data, 5) == [ServerSentEvent("a", "1", "7"), ServerSentEvent("message", "2", "7")]


async def test_an_event_cut_before_its_blank_line_is_dropped():
    async def chunks():
        yield b"data: whole\n\n"
        yield b"data: half"

    assert [event.data async for event in iter_events(chunks())] == ["whole"]


def test_only_cr_and_lf_end_lines():
    data = 'data: {"t": "a\u2028b\x0cc"}\n\n'.encode()
    assert parse_in_pieces(data, 4)[0].data == '{"t": "a\u2028b\x0cc"}'
