"""The fakechat channel's declaration: the ``reply`` and ``edit_message`` tools, the permission
cards, and the task that serves the page (see the package's docstring)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from ..._schema import object_schema, string, string_list
from ...channel import Channel, PermissionRequest
from ...errors import ConfigurationError
from ...state import ensure_private_dir
from ._chat import Fakechat
from ._settings import NAME, FakechatSettings


def instructions(url: str) -> str:
    return (
        f"The sender reads the fakechat page ({url}), not this session: anything you want them to see "
        "must go through the reply tool. Their messages arrive as "
        '<channel source="fakechat" chat_id="web" message_id="..." user="web" ts="..."> '
        '(source="plugin:fakechat:fakechat" when installed as a plugin). If the tag has '
        "file_path, they uploaded a file: Read it. reply takes text, optional reply_to (a message_id, to "
        "quote it) and files (paths; every one is offered as a download). edit_message changes a message you "
        "sent earlier; edits do not notify, so send a new reply when a long task finishes. Permission prompts "
        "for your tool use are shown in the page, where the user answers them."
    )


def build(environ: Mapping[str, str] | None = None) -> Channel:
    """The fakechat channel server, configured from the environment."""
    settings = FakechatSettings.from_environ(environ)
    channel = Channel(NAME, instructions=instructions(settings.url))
    chat = Fakechat(channel, settings)

    @channel.tool(
        description=(
            "Send a message to the fakechat page. Pass reply_to (a message_id) to quote an earlier "
            "message, and files (absolute paths, 50MB each at most) to attach them as downloads."
        ),
        input_schema=object_schema(
            {"text": string()}, {"reply_to": string("message_id to quote"), "files": string_list("absolute file paths")}
        ),
    )
    async def reply(text: str, reply_to: str | None = None, files: list[str] | None = None) -> str:
        return await chat.reply(text, reply_to, files)

    @channel.tool(
        description="Change the text of a message you sent earlier with reply (no notification).",
        input_schema=object_schema({"message_id": string(), "text": string()}),
    )
    async def edit_message(message_id: str, text: str) -> str:
        return await chat.edit(message_id, text)

    @channel.on_permission_request
    async def permission(request: PermissionRequest) -> None:
        await chat.show_permission(request)

    @channel.task(inbound=True)
    async def page() -> None:
        # Yield first and import aiohttp in a thread: the initialize answer must not wait for it.
        await asyncio.sleep(0)
        serve = await asyncio.to_thread(_load_transport)
        try:
            for folder in (settings.state, settings.inbox, settings.outbox):
                ensure_private_dir(folder)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot use the state directory {settings.state}: {exc.strerror or exc}"
            ) from None
        await serve(chat)

    return channel


def _load_transport() -> Callable[[Fakechat], Awaitable[None]]:
    from ._web import serve

    return serve


__all__ = ["build", "instructions"]
