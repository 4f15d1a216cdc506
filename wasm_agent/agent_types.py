"""Values an agent returns that know how to show themselves (smolagents' `agent_types`).

`AgentText` is a `str`; `AgentImage` is a `PIL.Image.Image` when Pillow is
installed (wasm_agent does not need it) and otherwise keeps the bytes or path
it was given; `AgentAudio` keeps a path or `(samplerate, samples)`.
`str(value)` gives text for all of them (an image is saved to a temporary
PNG file and its path returned).

>>> handle_agent_output_types("hello", "string")
'hello'
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .executor.wire_values import ImageBytes

try:  # Pillow is optional: with it, AgentImage is a real PIL image
    import PIL.Image as _PILImage
except ImportError:  # pragma: no cover - depends on the environment
    _PILImage = None

__all__ = ["AgentAudio", "AgentImage", "AgentText", "AgentType", "handle_agent_input_types",
           "handle_agent_output_types"]


class AgentType:
    """A value returned by an agent: `to_raw()` is the value, `to_string()` its text."""

    def __init__(self, value: Any):
        self._value = value

    def __str__(self) -> str:
        return self.to_string()

    def to_raw(self) -> Any:
        return self._value

    def to_string(self) -> str:
        return str(self._value)


class AgentText(AgentType, str):
    """Text returned by an agent; it is a `str`."""


_ImageBase: type = _PILImage.Image if _PILImage is not None else object


class AgentImage(AgentType, _ImageBase):
    """An image returned by an agent: from a PIL image, PNG/JPEG bytes, or a file path."""

    def __init__(self, value: Any):
        AgentType.__init__(self, value)
        if _PILImage is not None:
            _PILImage.Image.__init__(self)
        self._path: str | Path | None = None
        self._raw: Any = None
        self._bytes: bytes | None = None
        if isinstance(value, AgentImage):
            self._path, self._raw, self._bytes = value._path, value._raw, value._bytes
        elif _PILImage is not None and isinstance(value, _PILImage.Image):
            self._raw = value
        elif isinstance(value, (bytes, bytearray)):
            self._bytes = bytes(value)
            if _PILImage is not None:
                self._raw = _PILImage.open(io.BytesIO(self._bytes))
        elif isinstance(value, (str, Path)):
            self._path = value
        else:
            raise TypeError(f"Unsupported type for AgentImage: {type(value).__name__}")
        if self._raw is not None:  # behave as the image itself (size, mode, getpixel...): share its pixels
            self._raw.load()
            own = ("_value", "_path", "_raw", "_bytes")
            self.__dict__.update({k: v for k, v in self._raw.__dict__.items() if k not in own})

    def to_raw(self) -> Any:
        """The PIL image (bytes or the path without Pillow)."""
        if self._raw is None and _PILImage is not None:
            self._raw = _PILImage.open(io.BytesIO(self._bytes) if self._bytes is not None else self._path)
        return self._raw if self._raw is not None else (self._bytes if self._bytes is not None else self._path)

    def to_string(self) -> str:
        """The path of the image (saved as a temporary PNG when it has none)."""
        if self._path is None:
            path = os.path.join(tempfile.mkdtemp(), f"{uuid.uuid4()}.png")
            if self._bytes is not None:
                Path(path).write_bytes(self._bytes)
            else:
                self._raw.save(path, format="png")
            self._path = path
        return str(self._path)

    def save(self, output: Any, format: str | None = None, **params: Any) -> None:
        raw = self.to_raw()
        if _PILImage is not None and isinstance(raw, _PILImage.Image):
            raw.save(output, format=format, **params)
        else:
            data = raw if isinstance(raw, bytes) else Path(raw).read_bytes()
            output.write(data) if hasattr(output, "write") else Path(output).write_bytes(data)


class AgentAudio(AgentType, str):
    """Audio returned by an agent: a path or URL, or `(samplerate, samples)`."""

    def __new__(cls, value: Any, samplerate: int = 16_000):
        return str.__new__(cls, value if isinstance(value, (str, Path)) else "")

    def __init__(self, value: Any, samplerate: int = 16_000):
        super().__init__(value)
        self.samplerate = samplerate
        self._path = str(value) if isinstance(value, (str, Path)) else None
        if isinstance(value, tuple):
            self.samplerate, self._value = value
        elif self._path is None:
            raise ValueError(f"Unsupported audio type: {type(value).__name__}")

    def to_string(self) -> str:
        if self._path is None:
            raise ValueError("audio samples have no path here; write them with soundfile and return the path")
        return self._path


_AGENT_TYPE_MAPPING: dict[str, type] = {"string": AgentText, "image": AgentImage, "audio": AgentAudio}


def handle_agent_input_types(*args: Any, **kwargs: Any) -> tuple[list, dict]:
    args = [(arg.to_raw() if isinstance(arg, AgentType) else arg) for arg in args]
    kwargs = {k: (v.to_raw() if isinstance(v, AgentType) else v) for k, v in kwargs.items()}
    return args, kwargs


def handle_agent_output_types(output: Any, output_type: str | None = None) -> Any:
    """Wrap an output in the AgentType of its declared type, or of its Python type."""
    if output_type in _AGENT_TYPE_MAPPING:
        return _AGENT_TYPE_MAPPING[output_type](output)
    if isinstance(output, str) and not isinstance(output, AgentType):
        return AgentText(output)
    if _PILImage is not None and isinstance(output, _PILImage.Image) and not isinstance(output, AgentImage):
        return AgentImage(output)
    if isinstance(output, ImageBytes):  # an image from the sandbox, where this side has no Pillow
        return AgentImage(bytes(output))
    return output
