"""Files in both directions: what an incoming message carries, downloads into ``inbox/``, uploads.

An incoming message becomes a text for Claude (its text, its caption, or a placeholder such as
``(voice message)``) plus ``attachment_*`` meta; only photos are downloaded at once (after the
gate), everything else when Claude calls ``download_attachment``. Every uploader-controlled name
is passed through ``safe_name``; downloaded files get names made only of Telegram's ids.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from telegram import Bot, Message
from telegram.error import BadRequest

from ...errors import ToolError
from ...state import atomic_write, ensure_private_dir
from ...text import safe_name, saved_file_name
from ._bot import flood_safe

MB: Final = 1024 * 1024
#: Telegram lets bots download files up to 20 MB.
MAX_DOWNLOAD: Final = 20 * MB
#: ... and upload documents up to 50 MB, photos up to 10 MB.
MAX_UPLOAD: Final = 50 * MB
MAX_PHOTO_UPLOAD: Final = 10 * MB
PHOTO_EXTENSIONS: Final = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
DOWNLOAD_TIMEOUT: Final = 120.0


@dataclass(frozen=True)
class Described:
    """An incoming message as Claude sees it: ``content`` plus ``attachment_*`` meta."""

    content: str
    attachment: dict[str, str] = field(default_factory=dict)
    photo_file_id: str | None = None  # downloaded after the gate, into ``image_path``


def _attachment(
    kind: str, file_id: str, size: int | None, mime: str | None = None, name: str | None = None
) -> dict[str, str]:
    meta = {"attachment_kind": kind, "attachment_file_id": file_id}
    if size is not None:
        meta["attachment_size"] = str(size)
    if mime:
        meta["attachment_mime"] = mime
    if name:
        meta["attachment_name"] = safe_name(name)
    return meta


def _or(caption: str | None, placeholder: str) -> str:
    return caption if caption is not None else placeholder


def describe(message: Message) -> Described | None:
    """What to deliver for a message, or ``None`` for kinds the channel ignores (polls, locations...)."""
    caption = message.caption
    if message.text is not None:
        return Described(message.text)
    if message.photo:
        return Described(_or(caption, "(photo)"), photo_file_id=message.photo[-1].file_id)
    if message.document is not None:
        doc = message.document
        name = safe_name(doc.file_name) if doc.file_name else "file"
        return Described(
            _or(caption, f"(document: {name})"),
            _attachment("document", doc.file_id, doc.file_size, doc.mime_type, doc.file_name),
        )
    if message.voice is not None:
        voice = message.voice
        return Described(
            _or(caption, "(voice message)"), _attachment("voice", voice.file_id, voice.file_size, voice.mime_type)
        )
    if message.audio is not None:
        audio = message.audio
        title = audio.title or audio.file_name
        return Described(
            _or(caption, f"(audio: {safe_name(title) if title else 'audio'})"),
            _attachment("audio", audio.file_id, audio.file_size, audio.mime_type, audio.file_name),
        )
    if message.video is not None:
        video = message.video
        return Described(
            _or(caption, "(video)"),
            _attachment("video", video.file_id, video.file_size, video.mime_type, video.file_name),
        )
    if message.video_note is not None:
        note = message.video_note
        return Described("(video note)", _attachment("video_note", note.file_id, note.file_size))
    if message.sticker is not None:
        sticker = message.sticker
        label = f"(sticker {sticker.emoji})" if sticker.emoji else "(sticker)"
        return Described(label, _attachment("sticker", sticker.file_id, sticker.file_size))
    return None


class Downloads:
    """Fetches Telegram files into ``<state>/inbox/``."""

    def __init__(self, bot: Bot, inbox: Path, *, max_bytes: int = MAX_DOWNLOAD) -> None:
        self.bot = bot
        self.inbox = inbox
        self.max_bytes = max_bytes

    @property
    def _too_big(self) -> str:
        return f"file is larger than {self.max_bytes // MB} MB, the most Telegram lets bots download"

    async def fetch(self, file_id: str) -> Path:
        """Download one file; :class:`ToolError` with a reason the model can act on when it cannot."""
        try:
            info = await flood_safe(lambda: self.bot.get_file(file_id))
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise ToolError(self._too_big) from None
            raise
        if not info.file_path:
            raise ToolError("Telegram returned no file_path — file may have expired")
        if info.file_size is not None and info.file_size > self.max_bytes:
            raise ToolError(self._too_big)
        data = await self._get(info.file_path)
        last_segment = PurePosixPath(urlsplit(info.file_path).path).name
        ensure_private_dir(self.inbox)
        path = self.inbox / saved_file_name(info.file_unique_id, last_segment)
        await asyncio.to_thread(atomic_write, path, data)  # up to 20 MB: not on the event loop
        return path

    async def _get(self, url: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status != 200:
                raise ToolError(f"download failed: HTTP {response.status}")
            data = bytearray()
            async for block in response.content.iter_chunked(256 * 1024):
                data += block
                if len(data) > self.max_bytes:  # a server may not say, or may misstate, the size
                    raise ToolError(self._too_big)
            return bytes(data)


def is_photo(path: Path) -> bool:
    """Sent as a photo (inline preview) rather than a document: an image small enough for sendPhoto."""
    return path.suffix.lower() in PHOTO_EXTENSIONS and path.stat().st_size <= MAX_PHOTO_UPLOAD
