"""The Makefile's ``lab`` target: the README's first command works as root and as anyone else."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitlab import config

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

#: Keep make from (re)building .venv (these tests are about the lab command) and quiet under `make test`.
MAKE_OPTIONS = ("--no-print-directory", "-o", ".venv/.installed-stamp")


def lab_command(*overrides: str) -> str:
    """Return the command ``make lab`` would run (``make -n``), with ``VAR=value`` overrides."""
    proc = subprocess.run(["make", "-n", *MAKE_OPTIONS, "lab", *overrides], cwd=config.REPO_ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    return proc.stdout.strip()


@pytest.mark.parametrize("user_id, allowed", [("0", True), ("1000", False)])
def test_lab_allows_root_only_for_root(user_id, allowed):
    command = lab_command(f"USER_ID={user_id}")
    assert command.startswith(".venv/bin/jupyter lab notebooks/")
    assert ("--allow-root" in command) == allowed


def test_lab_detects_the_current_user_and_passes_extra_options():
    command = lab_command("LAB_ARGS=--no-browser --port 8890")
    assert ("--allow-root" in command) == (os.geteuid() == 0)
    assert command.endswith("--no-browser --port 8890")


def untracked(folder: Path) -> list[str]:
    """Return git's untracked and ignored entries under ``folder``."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", str(folder)], cwd=config.REPO_ROOT,
                         capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.splitlines() if line[:2] in ("??", "!!"))


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_really_starts_for_this_user(tmp_path):
    """``make lab`` starts JupyterLab (as root too) and is stopped as soon as it serves the workbook."""
    port = free_port()
    log = tmp_path / "lab.log"
    before = untracked(config.REPO_ROOT / "notebooks")
    args = ["make", *MAKE_OPTIONS, "lab", f"BIN={Path(sys.executable).parent}",
            f"LAB_ARGS=--no-browser --port={port} --port-retries=0 --ServerApp.ip=127.0.0.1"]
    with open(log, "w") as out:
        lab = subprocess.Popen(args, cwd=config.REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while f"127.0.0.1:{port}/lab" not in log.read_text() and lab.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert f"127.0.0.1:{port}/lab" in log.read_text(), log.read_text()[-2000:]
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=60)
    assert untracked(config.REPO_ROOT / "notebooks") == before
