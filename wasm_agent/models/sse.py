"""Server-sent events, parsed incrementally from the chunks a transport yields.

Follows the WHATWG event-stream rules: lines end in LF, CRLF or CR; `data`
lines of one event are joined with LF; a blank line dispatches the event;
lines starting with `:` are comments (keep-alives). Chunks may split lines,
and even UTF-8 characters, anywhere.

>>> parser = SSEParser()
>>> parser.feed(b'event: ping\\ndata: {"a"')
[]
>>> parser.feed(b': 1}\\n\\n')
[ServerSentEvent(event='ping', data='{"a": 1}', id=None)]
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import AsyncIterator

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None


class SSEParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._after_cr = False

    def feed(self, chunk: bytes | str) -> list[ServerSentEvent]:
        """Take the next chunk; return the events it completed."""
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if self._after_cr and text.startswith("\n"):  # the LF of a CRLF split between chunks
            text = text[1:]
        if text:
            self._after_cr = text.endswith("\r")
        *lines, self._buffer = _LINE_END.split(self._buffer + text)  # not splitlines: U+2028 is no line end
        events = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    """The events of a byte stream (an event cut before its blank line is dropped, per the spec)."""
    parser = SSEParser()
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
