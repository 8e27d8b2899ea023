"""The text of a message whose ``text`` column is empty: the NSString inside ``attributedBody``.

Newer macOS versions leave ``message.text`` NULL and keep the body only as an archived
NSAttributedString in Apple's old ``typedstream`` format. Only its first NSString is needed, so
this is a targeted reader, not a typedstream parser: find the ``NSString`` class name, then the
``+`` type code of its bytes, then read the length and the UTF-8 bytes.

Lengths are typedstream integers: a byte below 0x80 is the length itself, ``0x81`` is followed by
a 2-byte and ``0x82`` by a 4-byte little-endian integer. The official server reads ``0x81`` as a
1-byte length (and ``0x82`` as 2 bytes), which garbles every message of 128 bytes or more; this
reader gets them right. Blobs come from disk and may be anything, so every malformed shape gives
``None``, never an exception.
"""

from __future__ import annotations

from typing import Final

_CLASS_NAME: Final = b"NSString"
_BYTES_TYPE: Final = 0x2B  # "+": the type code of the string's bytes
_INT16: Final = 0x81
_INT32: Final = 0x82


def decode_attributed_body(blob: bytes | None) -> str | None:
    """The message text stored in an ``attributedBody`` blob, or ``None`` when there is none."""
    if not blob:
        return None
    data = bytes(blob)
    start = data.find(_CLASS_NAME)
    if start < 0:
        return None
    at = data.find(_BYTES_TYPE, start + len(_CLASS_NAME))
    if at < 0:
        return None
    parsed = _read_length(data, at + 1)
    if parsed is None:
        return None
    length, at = parsed
    if at + length > len(data):
        return None
    return data[at : at + length].decode("utf-8", errors="replace")


def _read_length(data: bytes, at: int) -> tuple[int, int] | None:
    """``(length, offset of the first byte after it)``; ``None`` for a missing or invalid length."""
    if at >= len(data):
        return None
    tag = data[at]
    if tag < 0x80:
        return tag, at + 1
    size = {_INT16: 2, _INT32: 4}.get(tag)
    if size is None or at + 1 + size > len(data):
        return None  # another typedstream tag, or a negative literal: not a length
    return int.from_bytes(data[at + 1 : at + 1 + size], "little"), at + 1 + size
