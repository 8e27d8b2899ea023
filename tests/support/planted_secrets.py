"""A made-up home holding what no channel may send, for the end-to-end tests of ``reply`` files.

Every secret's text holds :data:`MARK`, so a test can check that no answer ever repeats one. Run
the channel with :attr:`Home.env` (``HOME`` pointed here, ``CLAUDE_CONFIG_DIR`` unset) so that
``~`` and the default state directories are these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MARK = "planted-secret"


@dataclass(frozen=True)
class Home:
    root: Path
    home: Path
    other_state: Path  # a state directory given by SLACK_STATE_DIR (a channel this version lacks)

    @property
    def claude(self) -> Path:
        return self.home / ".claude"

    @property
    def telegram_env(self) -> Path:
        """Another channel's token, in its default state directory."""
        return self.claude / "channels" / "telegram" / ".env"

    @property
    def credentials(self) -> Path:
        return self.claude / ".credentials.json"

    @property
    def hard_link(self) -> Path:
        """An innocent-looking name for the Telegram token."""
        return self.root / "work" / "notes.txt"

    @property
    def document(self) -> Path:
        """A file that may be sent."""
        return self.root / "work" / "report.txt"

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "CLAUDE_CONFIG_DIR": "", "SLACK_STATE_DIR": str(self.other_state)}


def plant(root: Path) -> Home:
    """Tokens of other channels, Claude Code's credentials and settings, a hard link, a document."""
    home = Home(root, root / "home", root / "slack-state")
    files = {
        home.telegram_env: f"TELEGRAM_BOT_TOKEN=123:{MARK}\n",
        home.other_state / ".env": f"SLACK_BOT_TOKEN={MARK}\n",
        home.credentials: f'{{"claudeAiOauth": {{"accessToken": "{MARK}"}}}}',
        home.claude / "settings.local.json": f'{{"env": {{"API_KEY": "{MARK}"}}}}',
        home.home / ".claude.json": f'{{"mcpServers": {{"x": {{"env": {{"TOKEN": "{MARK}"}}}}}}}}',
        home.document: "all green\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.link(home.telegram_env, home.hard_link)
    return home
