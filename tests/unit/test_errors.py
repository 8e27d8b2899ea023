"""One error tree: every exception class the package defines derives from ``ChannelsError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import mcp_channels
from mcp_channels import errors


def _modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(mcp_channels.__path__, "mcp_channels.")]
    return [name for name in names if not name.endswith(".__main__")]  # importing it runs the command line


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found.append(value)
    return found


def test_every_exception_of_the_package_derives_from_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) > 20  # the walk found the package's modules, channels included
    outside = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes if not issubclass(cls, errors.ChannelsError)]
    assert outside == []


def test_user_fixable_kinds_share_one_base() -> None:
    for kind in (errors.UsageError, errors.ConfigurationError, errors.AccessError, errors.SettingsError):
        assert issubclass(kind, errors.UserError)
    for kind in (errors.ToolError, errors.ProtocolError, errors.DeliveryError, errors.StoreError):
        assert not issubclass(kind, errors.UserError)


def test_builtin_bases_that_callers_catch_are_kept() -> None:
    assert issubclass(errors.EventTooLarge, ValueError)
    assert issubclass(errors.HostDisconnected, ConnectionError)
    assert issubclass(errors.ConnectionClosed, ConnectionError)
    assert issubclass(errors.AccessError, ValueError)
    assert issubclass(errors.InvalidInput, ValueError)
