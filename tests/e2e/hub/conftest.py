"""The fixture every hub test starts from: a private hub directory, its hub stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.hub import HubDir, hub_dir


@pytest.fixture
def hub() -> Iterator[HubDir]:
    with hub_dir() as directory:
        yield directory
