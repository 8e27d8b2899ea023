"""Files in both directions: what a message carries, authenticated downloads into ``inbox/``, uploads.

An incoming message's files become an ``attachments`` line in meta (file id, name, type, size);
the first image is downloaded once the message has passed the gate (``image_path``), the rest
when Claude calls ``download_attachment`` with a file id. Slack serves files only with the bot
token, so the token is sent only to Slack's own file hosts (or to ``SLACK_API_BASE``'s host),
never to an address a message could name, and the answer is checked: without the ``files:read``
scope Slack answers with a sign-in page, not an error. Uploader-chosen names pass through
``safe_name``; saved files are named by Slack's file id.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from ...errors import ToolError
from ...outbound import MB
from ...state import atomic_write, ensure_private_dir
from ...text import safe_name

#: The most this channel downloads or uploads per file (Slack itself takes up to 1 GB).
MAX_FILE_BYTES: Final = 50 * MB
#: Files one reply may attach.
MAX_FILES: Final = 10
DOWNLOAD_TIMEOUT: Final = 120.0
IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_FILE_ID: Final = re.compile(r"F[A-Z0-9]{2,}")


@dataclass(frozen=True)
class DescribedFiles:
    """A message's files as Claude sees them: a placeholder when there is no text, meta, the image to fetch."""

    placeholder: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    image: Mapping[str, Any] | None = None


def kilobytes(size: int) -> int:
    """``size`` in KB, rounded half up."""
    return (size + 512) // 1024


def file_name(info: Mapping[str, Any]) -> str:
    """The uploader-chosen name of a file, made safe to show."""
    raw = info.get("name") or info.get("title") or info.get("id") or "file"
    return safe_name(str(raw))


def describe_files(files: Sequence[Mapping[str, Any]]) -> DescribedFiles:
    """``attachment_count`` and ``attachments`` (``F0123 report.pdf (application/pdf, 12KB); …``)."""
    usable = [
        f for f in files if isinstance(f.get("id"), str) and f.get("mode") not in ("tombstone", "hidden_by_limit")
    ]
    if not usable:
        return DescribedFiles("(file unavailable)" if files else None)
    described = []
    for info in usable:
        size = info["size"] if isinstance(info.get("size"), int) else 0
        kind = re.sub(r"[^A-Za-z0-9.+/-]", "", str(info.get("mimetype") or info.get("filetype") or "")) or "unknown"
        described.append(f"{info['id']} {file_name(info)} ({kind}, {kilobytes(size)}KB)")
    placeholder = f"(file: {file_name(usable[0])})" if len(usable) == 1 else f"({len(usable)} files)"
    image = next((f for f in usable if f.get("mimetype") in IMAGE_TYPES), None)
    meta = {"attachment_count": str(len(usable)), "attachments": "; ".join(described)}
    return DescribedFiles(placeholder, meta, image)


def check_file_id(value: str) -> str:
    """A file id from a tool argument, or a clear error."""
    if not _FILE_ID.fullmatch(value.strip()):
        raise ToolError(
            f"file_id must be a Slack file id like F0123ABCDEF (from attachments in the inbound meta), not {value!r}"
        )
    return value.strip()


def _extension(info: Mapping[str, Any]) -> str:
    name = str(info.get("name") or "")
    suffix = name.rsplit(".", 1)[1] if "." in name else str(info.get("filetype") or "")
    return re.sub(r"[^a-zA-Z0-9]", "", suffix)[:16] or "bin"


class Files:
    """Downloads into ``<state>/inbox/`` and uploads, with the bot token."""

    def __init__(self, web: AsyncWebClient, token: str, api_base: str, inbox: Path) -> None:
        self.web = web
        self.token = token
        self.inbox = inbox
        base = urlsplit(api_base)
        self._api_origin = (base.scheme, base.hostname, base.port)

    def may_receive_token(self, url: str) -> bool:
        """Whether ``url`` is a Slack file host (https, ``*.slack.com``) or ``SLACK_API_BASE``'s host."""
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname, parts.port) == self._api_origin:
            return True
        host = parts.hostname or ""
        return parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com"))

    async def info(self, file_id: str) -> Mapping[str, Any]:
        answer = await self.web.files_info(file=file_id)
        info = answer.get("file")
        if not isinstance(info, dict):
            raise ToolError(f"Slack returned no file for {file_id}")
        return info

    async def save(self, info: Mapping[str, Any]) -> Path:
        """Download one file into the inbox; :class:`ToolError` with a reason the model can act on."""
        size = info.get("size")
        if isinstance(size, int) and size > MAX_FILE_BYTES:
            raise ToolError(f"file is {size // MB} MB; this channel downloads at most {MAX_FILE_BYTES // MB} MB")
        url = info.get("url_private_download") or info.get("url_private")
        if not isinstance(url, str) or not url:
            raise ToolError("Slack gives no download address for this file (an external or deleted file?)")
        if not self.may_receive_token(url):
            raise ToolError(f"refusing to send the bot token to {urlsplit(url).hostname}: not a Slack file host")
        data = await self._get(url)
        ensure_private_dir(self.inbox)
        ident = re.sub(r"[^A-Z0-9]", "", str(info.get("id") or "")) or "file"
        path = self.inbox / f"{int(time.time() * 1000)}-{ident}.{_extension(info)}"
        await asyncio.to_thread(atomic_write, path, data)  # up to 50 MB: not on the event loop
        return path

    async def _get(self, url: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers, allow_redirects=False) as response,
        ):
            if 300 <= response.status < 400 or response.content_type == "text/html":
                raise ToolError(
                    "Slack answered with a sign-in page instead of the file: the app needs the files:read "
                    "scope (add it under OAuth & Permissions, then reinstall the app)"
                )
            if response.status != 200:
                raise ToolError(f"download failed: HTTP {response.status}")
            data = bytearray()
            async for block in response.content.iter_chunked(256 * 1024):
                data += block
                if len(data) > MAX_FILE_BYTES:  # the size Slack stated may be missing or wrong
                    raise ToolError(f"file is larger than {MAX_FILE_BYTES // MB} MB, the most this channel downloads")
            return bytes(data)

    async def upload(self, paths: Sequence[Path], conversation: str, thread_ts: str | None) -> list[str]:
        """Share ``paths`` in one message (``files.getUploadURLExternal`` + ``completeUploadExternal``); their ids."""
        uploads = [
            {"file": str(path), "filename": safe_name(path.name), "title": safe_name(path.name)} for path in paths
        ]
        answer = await self.web.files_upload_v2(file_uploads=uploads, channel=conversation, thread_ts=thread_ts)
        files = answer.get("files")
        return [str(f.get("id")) for f in files if isinstance(f, dict)] if isinstance(files, list) else []
