"""The channel registry: each channel's facts are declared once, in its package, and read from there.

The command line, ``doctor``, ``text``, the host and the plugin generator used to hold their own
copies of token variables, limits, ports and libraries; these tests keep a copy from coming back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import mcp_channels
from mcp_channels import channels, text
from mcp_channels.channels import NAMES, PACKAGES, all_facts, facts
from mcp_channels.runners import MemoryRunner
from support.imessage import ChatDbBuilder

SOURCE = Path(mcp_channels.__file__).resolve().parent
REPO = SOURCE.parent.parent
#: Where the facts used to be copied: the command line, doctor, the host and the plugin generator
#: (``text.py`` too, checked apart: 4096 is also its mention-search window and a cache size).
READERS = [*sorted((SOURCE / "cli").rglob("*.py")), *sorted((SOURCE / "host").rglob("*.py"))]
READERS.append(REPO / "scripts" / "plugins.py")


def _constants(path: Path) -> list[object]:
    """Every literal in a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings]


def _home(name: str) -> Path:
    return SOURCE / "channels" / name / "__init__.py"


def test_every_registered_channel_declares_its_facts_in_its_package() -> None:
    assert NAMES == tuple(PACKAGES) == ("fakechat", "webhook", "telegram", "discord", "imessage", "slack")
    for name in NAMES:
        declared = facts(name)
        assert declared.name == name and declared.plugin.description
        assert PACKAGES[name] == f"mcp_channels.channels.{name}"
    assert [declared.name for declared in all_facts()] == list(NAMES)


def test_variable_names_appear_only_where_the_channel_declares_them() -> None:
    variables = {
        variable: name
        for name in NAMES
        for variable in [
            *(token.variable for token in facts(name).tokens),
            *([facts(name).port.variable] if facts(name).port else []),
        ]
    }
    assert {
        "TELEGRAM_BOT_TOKEN",
        "DISCORD_BOT_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "WEBHOOK_SECRET",
        "WEBHOOK_PORT",
        "FAKECHAT_PORT",
    } <= set(variables)
    found = [
        f"{path.relative_to(REPO)}: {value}"
        for path in [*SOURCE.rglob("*.py"), REPO / "scripts" / "plugins.py"]
        for value in _constants(path)
        if value in variables and path != _home(variables[str(value)])
    ]
    assert found == []


def test_limits_and_ports_are_not_copied_where_they_are_read() -> None:
    numbers = {declared.message_limit for declared in all_facts()} | {
        declared.port.default for declared in all_facts() if declared.port
    }
    numbers.discard(None)
    assert {4096, 2000, 10_000, 4000, 8787, 8788} <= numbers
    found = [
        f"{path.relative_to(REPO)}: {value}"
        for path in READERS
        for value in _constants(path)
        if type(value) is int and value in numbers
    ]
    assert found == []
    assert not hasattr(text, "MESSAGE_LIMITS")


def test_the_command_line_names_no_channel_but_through_the_registry() -> None:
    """The demo runs fakechat by design, and ``webhook`` is also a command's name; nothing else."""
    allowed = {(SOURCE / "cli" / "host.py", "fakechat"), (SOURCE / "cli" / "__init__.py", "webhook")}
    found = [
        f"{path.relative_to(REPO)}: {value}"
        for path in [*(SOURCE / "cli").rglob("*.py"), *(SOURCE / "host").rglob("*.py"), SOURCE / "text.py"]
        for value in _constants(path)
        if value in NAMES and (path, value) not in allowed
    ]
    assert found == []
    for path in (SOURCE / "cli").rglob("*.py"):
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module
        }
        reaching_in = {module for module in imported if module.lstrip(".").startswith("channels.")}
        assert not reaching_in or path.name == "webhook.py", (path, reaching_in)


def test_serving_the_webhook_imports_no_other_channel_and_no_platform_library() -> None:
    probe = (
        "import json, sys\n"
        "from mcp_channels.channels import build\n"
        "from mcp_channels.runners.stdio import StdioRunner\n"
        "StdioRunner(build('webhook'))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(result.stdout))
    assert "mcp_channels.channels.webhook._channel" in loaded
    others = {module for module in loaded if module.startswith("mcp_channels.channels.") and ".webhook" not in module}
    assert others == set()
    libraries = {declared.library.import_name for declared in all_facts() if declared.library}
    assert libraries == {"telegram", "discord", "slack_sdk"}
    assert not (libraries | {"aiohttp", "psutil", "argparse"}) & {module.split(".")[0] for module in loaded}


def test_facts_do_not_import_channel_code() -> None:
    probe = (
        "import json, sys\n"
        "from mcp_channels.channels import all_facts\n"
        "all_facts()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(result.stdout)
    assert [module for module in loaded if module.startswith("mcp_channels.channels.") and "._" in module] == []


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    chat_db = tmp_path / "chat.db"
    ChatDbBuilder(chat_db).close()
    return {
        "HOME": str(tmp_path),
        **{f"{name.upper()}_STATE_DIR": str(tmp_path / name) for name in NAMES},
        "TELEGRAM_BOT_TOKEN": "123456789:" + "A" * 35,
        "DISCORD_BOT_TOKEN": "MTIz.fake-bot.token",
        "IMESSAGE_DB_PATH": str(chat_db),
        "SLACK_BOT_TOKEN": "xoxb-1-2-fake",
        "SLACK_APP_TOKEN": "xapp-1-A1-2-fake",
    }


#: The tasks each channel runs, and whether each holds the platform's inbound side.
TASKS = {
    "fakechat": [("page", True)],
    "webhook": [("listen", True)],
    "telegram": [("load_platform", False), ("receive_messages", True), ("confirm_pairings", True)],
    "discord": [("load_platform", False), ("connect", True), ("deliver", True), ("greet_approved", True)],
    "imessage": [("poll_forever", True), ("greet_approved", True)],
    "slack": [("load_platform", False), ("receive_events", True), ("show_progress", True), ("confirm_pairings", True)],
}


@pytest.mark.parametrize("name", NAMES)
async def test_each_channel_says_which_tasks_hold_its_inbound_side(name: str, environment: dict[str, str]) -> None:
    channel = channels.build(name, environment)
    assert channel.name == name
    assert [(task.name, task.inbound) for task in channel.tasks] == TASKS[name]
    async with MemoryRunner(channel, inbound=False) as runner:
        assert runner.started_tasks == [task for task, inbound in TASKS[name] if not inbound]
