"""The webhook channel: every HTTP POST to 127.0.0.1 becomes one event in the Claude Code session.

Point CI, a monitoring system or a GitHub webhook (through a tunnel) at it. One-way: Claude reads
and acts; nothing is sent back. The one tool, ``status``, tells Claude where the receiver listens
and what it has seen, so it can answer "what URL do I give GitHub?" or "did the build hook fire?".

Configuration (environment, or ``WEBHOOK_SECRET`` in the state ``.env``):

``WEBHOOK_PORT``
    Port on 127.0.0.1 (default 8788).
``WEBHOOK_SECRET``
    When set, every POST must carry a valid HMAC-SHA256 of its body: GitHub's
    ``X-Hub-Signature-256: sha256=<hex>`` or the generic ``X-Signature-256`` (same form, or bare
    hex). Anything else gets 401.
``WEBHOOK_MAX_BODY``
    Largest accepted body in bytes (default 1 MiB); larger gets 413 before the body is read.
``WEBHOOK_REPLAY_PROTECTION``
    ``true`` refuses (409) a delivery id (``X-GitHub-Delivery``, ``X-Gitlab-Event-UUID``,
    ``X-Delivery-Id``) or a body seen in the last 10,000 accepted events. The id alone is the
    sender's word (anyone replaying a captured delivery can change or drop it); the body's
    SHA-256 is what a replay cannot change without breaking the signature.
``WEBHOOK_ROUTES``, ``webhook.json`` in the state directory, ``WEBHOOK_INBOX_MAX_FILES``/``_BYTES``
    Presets (:mod:`._presets`): a GitHub, GitLab, Sentry or Alertmanager delivery
    becomes a short summary with key meta, its full payload saved in ``inbox/`` (``payload_path``);
    routes pin presets, give templates and filter deliveries per path. A broken settings file
    stops the server at start. Other senders' bodies are delivered as they came.
``WEBHOOK_ALLOWED_HOSTS`` / ``WEBHOOK_ALLOWED_ORIGINS``
    Extra ``Host`` values (a tunnel's public name) and browser origins to accept; see below.
``WEBHOOK_MAX_CONNECTIONS``, ``WEBHOOK_READ_TIMEOUT``, ``WEBHOOK_MAX_BODY_TOTAL``
    The receiver's resource bounds (:class:`~mcp_channels._http1.Limits`).

A web page must not be able to type into the session: browsers let any page POST to
127.0.0.1 (``mode: "no-cors"``), and a DNS-rebound name reaches it with the page's own ``Host``.
So a request carrying an ``Origin`` header, a ``Sec-Fetch-Site`` other than ``none``, or a
``Host`` that is not the listening address (``127.0.0.1:<port>``, ``localhost:<port>``,
``[::1]:<port>``) gets 403, unless the allow-lists say otherwise. curl, CI systems and GitHub
send none of these, and tunnel clients that rewrite ``Host`` (``gh webhook forward``,
``smee-client``) need nothing; a tunnel that passes its public name through (ngrok, cloudflared)
needs that name in ``WEBHOOK_ALLOWED_HOSTS``.

Bodies that are not valid UTF-8 are delivered with U+FFFD in place of the bad bytes and the meta
flag ``invalid_utf8="true"``, rather than refused: a CI system rarely lets you fix its encoding,
and the event still says something happened.
"""

from __future__ import annotations

from .. import ChannelFacts, ConversationFacts, OptionalToken, PluginFacts, Port, Token

SECRET = Token(
    "WEBHOOK_SECRET",
    source="any long random string shared with the sender",
    mask_keep=4,
    kind="secret",
    optional=OptionalToken(
        risk="any program on this machine can post events into your session",
        purpose="makes the receiver accept only signed requests",
        effect="senders must sign each request (X-Hub-Signature-256) with this secret",
        counterpart="and give the sender the same secret",
    ),
)
PORT = Port("WEBHOOK_PORT", 8788)
FACTS = ChannelFacts(
    name="webhook",
    title="Webhook",
    tokens=(SECRET,),
    port=PORT,
    # Each request path is a conversation (``hub route --prefix /ci/`` routes a family of them).
    conversations=ConversationFacts(chat="path"),
    plugin=PluginFacts(
        description=(
            "Webhook receiver: every HTTP POST to 127.0.0.1:8788 becomes an event in your Claude Code session "
            "(CI results, monitoring alerts, GitHub hooks). Optional HMAC signatures via /webhook:configure."
        ),
        keywords=("webhook", "ci", "alerts", "channel", "mcp"),
        category="development",
        summary=(
            "Every HTTP POST to `127.0.0.1:8788` becomes one event in the Claude Code session: point CI,\n"
            "a monitoring system or a GitHub webhook (through a tunnel) at it. One-way: Claude reads and acts."
        ),
        setup=(
            "Nothing is required. To accept only signed requests, save a shared secret with\n"
            "`/webhook:configure <secret>` (or `mcp-channels configure webhook <secret>`). `WEBHOOK_PORT`\n"
            "moves the receiver off 8788. Try it: `curl -X POST localhost:8788/ci -d 'build failed on main'`."
        ),
        skills={"configure": "configure-webhook.md"},
    ),
)

__all__ = ["FACTS", "PORT", "SECRET"]
