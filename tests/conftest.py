"""Shared fixtures. The real embedded model and the real engine environments are used (built by `make test`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# One thread per heavy process: on a busy 2-core box two threads collapse (docs/engine-notes.md).
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / 'fixtures'
ARTIFACTS = REPO / 'test-artifacts'


@pytest.fixture(scope='session')
def embedded_model() -> Path:
    """The pulled SmolLM2 folder in the user's real cache (pulled once if missing)."""
    from agentlab.models.pull import pull
    return pull('smollm2-135m', log=lambda _m: None)


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Path:
    """An empty $AGENTLAB_HOME, for tests that must not touch the real cache."""
    home = tmp_path / 'agentlab-home'
    monkeypatch.setenv('AGENTLAB_HOME', str(home))
    return home


def run_cli(*args: str, env: dict | None = None, timeout: float = 600, cwd: Path | None = None,
            input_text: str | None = None):
    """Run the installed `agentlab` console script as a user would."""
    exe = Path(sys.executable).parent / 'agentlab'
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd, input=input_text if input_text is not None else '')


def start_serve(*args: str, stderr=subprocess.PIPE, timeout: float = 300) -> tuple[subprocess.Popen, list[str]]:
    """Start `agentlab serve ARGS` as a user would and read its output until it says Ctrl-C stops it (it is ready)
    or ``timeout`` passes; returns the process and the lines it printed."""
    proc = subprocess.Popen([str(Path(sys.executable).parent / 'agentlab'), 'serve', *args],
                            stdout=subprocess.PIPE, stderr=stderr, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith('Ctrl-C') or time.monotonic() > deadline:
            break
    return proc, lines
