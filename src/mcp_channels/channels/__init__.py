"""The channels, and the one registry the command line, ``doctor``, the host and the plugin generator read.

Each channel is one package here. Its ``__init__`` declares the channel's facts once, as a
:class:`ChannelFacts` named ``FACTS``, and imports nothing heavy; its ``_channel`` module has
``build(environ=None) -> Channel``. :data:`PACKAGES` below maps each name to its package, one
line per channel, and nothing is imported until it is asked for: :func:`facts` imports a
channel's facts, :func:`build` its code, and ``mcp-channels serve webhook`` imports no other
channel and no platform library.

Adding a channel is one folder under ``channels/`` and one line in :data:`PACKAGES` (the README's
*Write a built-in channel* says what the folder holds).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ..channel import Channel
    from ..diagnostics import Check, Setup

#: Channel name -> the package declaring its ``FACTS``. One line per channel, in the order the
#: command line lists them.
PACKAGES: Final = {
    "fakechat": "mcp_channels.channels.fakechat",
    "webhook": "mcp_channels.channels.webhook",
    "telegram": "mcp_channels.channels.telegram",
    "discord": "mcp_channels.channels.discord",
    "imessage": "mcp_channels.channels.imessage",
    "slack": "mcp_channels.channels.slack",
}
#: Every channel's name, known without importing any of them.
NAMES: Final = tuple(PACKAGES)

DoctorCheck = Callable[["Setup"], "list[Check]"]


@dataclass(frozen=True)
class OptionalToken:
    """What a token the channel works without means, said by ``doctor`` and ``configure``."""

    #: What anyone can do while it is not set.
    risk: str
    #: What setting it achieves, as the next step to take.
    purpose: str
    #: What holds once it is set.
    effect: str
    #: What else to do when setting it.
    counterpart: str


@dataclass(frozen=True)
class Token:
    """A credential the channel reads from its environment or its state ``.env``."""

    variable: str
    #: Where a value comes from, for people: "from @BotFather".
    source: str
    #: What a value looks like, abbreviated: "123456789:AAH...".
    example: str = ""
    #: A regular expression a well-formed value matches whole (``None``: anything goes).
    shape: str | None = None
    #: Characters of a value shown when it is masked (never more than a quarter of it).
    mask_keep: int = 6
    #: The word commands use for it: "token" or "secret".
    kind: str = "token"
    #: ``None`` when the channel cannot start without it.
    optional: OptionalToken | None = None

    @property
    def hint(self) -> str:
        """Where a value comes from and what it looks like, in one phrase."""
        return f"{self.source}, like {self.example}" if self.example else self.source


@dataclass(frozen=True)
class Port:
    """The TCP port on 127.0.0.1 the channel listens on, and the variable that moves it."""

    variable: str
    default: int


@dataclass(frozen=True)
class PlatformLibrary:
    """The third-party library the channel needs, imported only once the channel runs."""

    #: What ``import`` names: "telegram".
    import_name: str
    #: The distribution pip installs: "python-telegram-bot".
    distribution: str
    #: The oldest version the channel works with.
    oldest: tuple[int, ...]
    #: The ``mcp-channels[...]`` extra that installs it.
    extra: str


@dataclass(frozen=True)
class AccessFacts:
    """A channel with an ``access.json``: who may reach Claude through it (``mcp-channels access``)."""

    default_dm_policy: str = "pairing"
    #: The ``access set`` keys the channel honours; ``None`` for all of them.
    settable: tuple[str, ...] | None = None
    #: How a person is named in ``access allow``: "<user id>", "<handle>".
    id_hint: str = "<user id>"
    #: Who can ask for a pairing code under ``dmPolicy: pairing``.
    strangers: str = "anyone who finds the bot"
    #: The owner's own chat always reaches Claude and is the only one that may approve tool use
    #: (iMessage's self-chat); pairing would answer anyone who writes to the owner.
    owner_chat: bool = False
    #: A regular expression every person's id matches whole (``None``: any id): ``access allow``
    #: and a group's ``--allow`` refuse anything else, such as a name where an id belongs.
    member_shape: str | None = None
    #: The same for a group's id (``access group add``), and how one is named.
    group_shape: str | None = None
    group_id_hint: str = "<group id>"


@dataclass(frozen=True)
class PluginFacts:
    """The channel's Claude Code plugin, as ``scripts/plugins.py`` writes it."""

    description: str
    keywords: tuple[str, ...]
    category: str
    summary: str
    setup: str
    #: Skill folder -> template in ``scripts/plugin-templates/skills``.
    skills: Mapping[str, str] = field(default_factory=dict)
    #: More values the skill templates use.
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversationFacts:
    """What one conversation of the channel is, for a runner that routes each to its own session (the hub).

    A conversation is a chat, or a thread inside a chat where the platform has threads. Both are
    read from what the channel already gives Claude: the event meta names them under the keys
    below, and ``reply`` takes arguments of the same names, so an event's conversation and the
    one a ``reply`` answers in are the same.
    """

    #: The meta key (and ``reply`` argument) naming the chat.
    chat: str = "chat_id"
    #: The meta key (and ``reply`` argument) naming a thread inside the chat, for a platform whose
    #: threads share their chat's id (Slack's ``thread_ts``); ``None`` where a thread is a chat of
    #: its own (a Discord thread has its own channel id) or there are none.
    thread: str | None = None
    #: The conversation of a channel whose ``reply`` names no chat: its only one (fakechat's page).
    single: str | None = None


@dataclass(frozen=True)
class ChannelFacts:
    """Everything outside a channel's package needs to know about it, declared once in the package."""

    name: str
    title: str
    plugin: PluginFacts
    tokens: tuple[Token, ...] = ()
    #: The platform's longest message, the cap of ``textChunkLimit``, in :attr:`length_units`.
    message_limit: int | None = None
    #: How the platform counts a message's length: "codepoints" or "utf16".
    length_units: str = "codepoints"
    port: Port | None = None
    library: PlatformLibrary | None = None
    access: AccessFacts | None = None
    #: Claude Code's official marketplace has a plugin of the same name (a second server if both run).
    official_plugin: bool = False
    #: The channel relays permission prompts (which needs Claude Code 2.1.81).
    relays_permissions: bool = False
    #: Functions of the package's ``_doctor`` module, ``(Setup) -> list[Check]``, run by ``doctor``.
    doctor_checks: tuple[str, ...] = ()
    #: How the hub tells the channel's conversations apart.
    conversations: ConversationFacts = field(default_factory=ConversationFacts)

    def token(self, variable: str) -> Token:
        """The token read from ``variable``."""
        return next(token for token in self.tokens if token.variable == variable)


def facts(name: str) -> ChannelFacts:
    """The facts of channel ``name`` (``KeyError`` for an unknown one); imports only its package."""
    module = importlib.import_module(PACKAGES[name])
    declared: ChannelFacts = module.FACTS
    return declared


def all_facts() -> tuple[ChannelFacts, ...]:
    """Every channel's facts, in :data:`NAMES` order."""
    return tuple(facts(name) for name in NAMES)


def build(name: str, environ: Mapping[str, str] | None = None) -> Channel:
    """Channel ``name``, configured from ``environ`` (default ``os.environ``); imports its code."""
    module = importlib.import_module(f"{PACKAGES[name]}._channel")
    channel: Channel = module.build(environ)
    return channel


def doctor_checks(name: str) -> list[DoctorCheck]:
    """The checks channel ``name`` adds to ``doctor``."""
    declared = facts(name).doctor_checks
    if not declared:
        return []
    module = importlib.import_module(f"{PACKAGES[name]}._doctor")
    return [getattr(module, check) for check in declared]


__all__ = [
    "NAMES",
    "PACKAGES",
    "AccessFacts",
    "ChannelFacts",
    "ConversationFacts",
    "DoctorCheck",
    "OptionalToken",
    "PlatformLibrary",
    "PluginFacts",
    "Port",
    "Token",
    "all_facts",
    "build",
    "doctor_checks",
    "facts",
]
