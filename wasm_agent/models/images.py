"""Images in messages as a provider takes them: a media type and base64 data, or a URL.

A message part `{"type": "image", "image": ...}` (smolagents' shape: task `images=`, a step's
`observations_images`) holds a PIL image, an `AgentImage`, file bytes, a file path, a `data:` URL or
an http(s) URL; `{"type": "image_url", "image_url": {"url": ...}}` (OpenAI's shape) is taken too.
Each provider module turns an `ImageSource` into its own wire format.

>>> image_source(b"\\x89PNG\\r\\n\\x1a\\n...").media_type
'image/png'
>>> image_source("https://example.com/cat.jpg").url
'https://example.com/cat.jpg'
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from dataclasses import dataclass
from typing import Any

from ..executor.wire_values import image_file_bytes, image_format, is_image

# What the three providers accept inline; other formats are converted to PNG when Pillow is installed.
SENT_FORMATS = ("png", "jpeg", "gif", "webp")


@dataclass(frozen=True)
class ImageSource:
    """An image to send: `media_type` and base64 `data`, or a `url` the provider fetches itself."""

    media_type: str
    data: str | None = None
    url: str | None = None

    @property
    def data_url(self) -> str:
        return self.url or f"data:{self.media_type};base64,{self.data}"


def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") in ("image", "image_url")


def part_image_source(part: dict) -> ImageSource:
    """The image of a message part, `{"type": "image", "image": ...}` or `{"type": "image_url", ...}`."""
    if part.get("type") == "image_url":
        url = part.get("image_url")
        return image_source(url.get("url") if isinstance(url, dict) else url)
    return image_source(part.get("image"))


def image_source(image: Any) -> ImageSource:
    """An `ImageSource` for a PIL image, an `AgentImage`, file bytes, a path, a data URL or an http(s) URL."""
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        return ImageSource(_media_type_of_name(image), url=image)
    if isinstance(image, str) and image.startswith("data:"):
        header, _, data = image.partition(",")
        if not header.endswith(";base64") or not header[5:].startswith("image/"):
            raise ValueError("an image data URL must be data:image/…;base64,…")
        try:
            base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise ValueError(f"the image data URL is not valid base64: {error}") from None
        return ImageSource(header[5:-7], data=data)
    if isinstance(image, (bytes, bytearray)) or is_image(image):
        data = image_file_bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as file:
            data = file.read()
    else:
        raise TypeError(f"a {type(image).__name__} cannot be sent as an image: give a PIL image, an AgentImage, "
                        "the file's bytes, its path, or a URL")
    kind = image_format(data)
    if kind not in SENT_FORMATS:
        data, kind = _as_png(data, kind), "png"
    return ImageSource(f"image/{kind}", data=base64.b64encode(data).decode())


def _as_png(data: bytes, kind: str) -> bytes:
    try:
        import PIL.Image
    except ImportError:
        raise ValueError(f"a {kind} image cannot be sent: providers take PNG, JPEG, GIF or WebP "
                         "(install Pillow to convert it)") from None
    buffer = io.BytesIO()
    PIL.Image.open(io.BytesIO(data)).save(buffer, format="PNG")
    return buffer.getvalue()


def _media_type_of_name(url: str) -> str:
    extension = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}.get(
        extension, "image/png")
