"""digitlab.config: repository paths and the fast-mode switch."""
from __future__ import annotations

import pytest

from digitlab import config


def test_repo_root_is_the_checkout():
    assert (config.REPO_ROOT / "pyproject.toml").exists() and (config.REPO_ROOT / "digitlab").is_dir()


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("", False), ("0", False), ("false", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(config.FAST_ENV, value)
    assert config.fast_mode() is expected


def test_fast_mode_off_when_unset(monkeypatch):
    monkeypatch.delenv(config.FAST_ENV, raising=False)
    assert config.fast_mode() is False
