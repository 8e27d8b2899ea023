"""The public face is pinned: a change to it is deliberate, and shows up here.

``mcp_channels`` exports the SDK (what a channel author needs); ``mcp_channels.runners`` what a
test or an embedding needs to host a channel; ``mcp_channels.channels`` the registry. Every other
module whose name has no ``_`` part declares ``__all__``, listing every public class and function
it defines.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import mcp_channels

PINNED = {
    "mcp_channels": [
        "Channel",
        "ChannelEvent",
        "ChannelsError",
        "ConfigurationError",
        "DeliveryStatus",
        "EventQueueFull",
        "EventSink",
        "EventTooLarge",
        "HostDisconnected",
        "PermissionRequest",
        "Task",
        "Tool",
        "ToolError",
        "ToolResult",
        "__version__",
    ],
    "mcp_channels.runners": ["MemoryRunner", "QueueLimits", "StdioRunner"],
    "mcp_channels.sink": ["ChannelEvent", "DeliveryStatus", "EventSink"],
    "mcp_channels.channels": [
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
    ],
    "mcp_channels.settings": [
        "BotSettings",
        "environ_or_os",
        "flag_setting",
        "float_setting",
        "int_setting",
        "required_credential",
        "url_setting",
    ],
}


def _public_modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(mcp_channels.__path__, "mcp_channels.")]
    public = [name for name in names if not any(part.startswith("_") for part in name.split(".")[1:])]
    return [mcp_channels, *(importlib.import_module(name) for name in public)]


def test_the_package_exports_exactly_its_public_names() -> None:
    exported = {
        name
        for name, value in vars(mcp_channels).items()
        if (not name.startswith("_") or name == "__version__") and not inspect.ismodule(value) and name != "annotations"
    }
    assert sorted(mcp_channels.__all__) == sorted(exported)


def test_the_pinned_faces() -> None:
    for module, names in PINNED.items():
        assert list(importlib.import_module(module).__all__) == names, module


def test_every_public_module_declares_all_its_public_members() -> None:
    for module in _public_modules():
        assert hasattr(module, "__all__"), module.__name__
        listed = set(module.__all__)
        for name in listed:
            assert hasattr(module, name), f"{module.__name__}.{name}"
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ == module.__name__
        }
        assert defined <= listed, f"{module.__name__} does not list {sorted(defined - listed)}"


def test_channel_packages_show_their_facts_and_hide_their_code() -> None:
    for name in mcp_channels.channels.NAMES:
        package = importlib.import_module(mcp_channels.channels.PACKAGES[name])
        assert "FACTS" in package.__all__
        code = [info.name for info in pkgutil.iter_modules(package.__path__)]
        assert code and all(module.startswith("_") for module in code), (name, code)
