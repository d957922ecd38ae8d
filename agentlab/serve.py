"""`agentlab serve` and `agentlab quantize`: an OpenAI-compatible endpoint for any local model, and AWQ 4-bit weights.

Two engines:
  * ``transformers``: ``transformers serve`` from the core environment (CPU or GPU), the model preloaded and pinned;
  * ``lmdeploy``: ``lmdeploy serve api_server`` from the isolated serve environment (CUDA GPUs only; LMDeploy has no
    CPU engine), with tensor parallelism, KV-cache quantisation (quant policy 4/8), AWQ models and registration with
    LMDeploy's own proxy for scale-out across servers.

Either way `agentlab serve` waits until the server answers its health check, then prints ``ready``, the base URL and
the model spec every other command takes (``http://HOST:PORT/v1#MODEL``). Ctrl-C stops the server and everything it
started. A port in use, a model that fails to load or a server that dies is a one-line error.

The exact command lines are built by `transformers_command` and `lmdeploy_command` (tests assert them).
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from agentlab.errors import AgentlabError
from agentlab.models import ModelSpec, parse_model_spec

ENGINES = ('transformers', 'lmdeploy')
DEFAULT_PORTS = {'transformers': 8000, 'lmdeploy': 23333}
SCRIPTS = Path(__file__).parent / 'engine_scripts'
API_KEY_ENV = 'AGENTLAB_SERVE_API_KEY'     # how the key reaches the transformers wrapper (never on a command line)


def gpu_refusal(what: str) -> str:
    return (f'{what} needs a CUDA GPU (LMDeploy has no CPU engine) and none was found here; '
            'on CPU use: agentlab serve --engine transformers')


# --- command lines --------------------------------------------------------------------------------------------

def transformers_command(model_path: str | Path, host: str, port: int, *, device: str = 'auto',
                         dtype: str = 'float32', api_key: str | None = None,
                         python: str | Path | None = None) -> list[str]:
    """The `transformers serve` command line (core environment). The model is preloaded and pinned
    (`force_model`), so requests must name it exactly as given here: ``str(model_path)``.

    With an API key the same CLI runs through agentlab's wrapper, which adds bearer-token checks to every route but
    /health (`transformers serve` has no key option); the key travels in $AGENTLAB_SERVE_API_KEY, not argv."""
    python = str(python or sys.executable)
    args = ['serve', str(model_path), '--host', host, '--port', str(port), '--device', device, '--dtype', dtype,
            '--log-level', 'warning']
    if api_key:
        return [python, str(SCRIPTS / 'transformers_serve_auth.py'), *args]
    exe = Path(python).parent / 'transformers'
    if exe.exists():
        return [str(exe), *args]
    return [python, '-m', 'transformers.cli.transformers', *args]


def lmdeploy_command(model_path: str | Path, model_name: str, host: str, port: int, *, tp: int = 1,
                     quant_policy: int = 0, model_format: str | None = None, backend: str = 'turbomind',
                     api_key: str | None = None, session_len: int | None = None,
                     cache_max_entry_count: float | None = None, tool_call_parser: str | None = None,
                     proxy_url: str | None = None, log_level: str = 'WARNING',
                     python: str | Path | None = None) -> list[str]:
    """The `lmdeploy serve api_server` command line, run with the serve environment's interpreter."""
    if quant_policy not in (0, 4, 8):
        raise AgentlabError(f'--quant-policy must be 0 (off), 4 or 8 (KV-cache bits), not {quant_policy}')
    if tp < 1 or tp & (tp - 1):
        raise AgentlabError(f'--tp must be a power of two (GPUs for tensor parallelism), not {tp}')
    if backend not in ('turbomind', 'pytorch'):
        raise AgentlabError(f'--backend must be turbomind or pytorch, not {backend!r}')
    if model_format not in (None, 'hf', 'awq', 'gptq'):
        raise AgentlabError(f'--model-format must be hf, awq or gptq, not {model_format!r}')
    if python is None:
        from agentlab import envs
        python = envs.env_python(envs.engine('serve'))
    cmd = [str(python), '-m', 'lmdeploy', 'serve', 'api_server', str(model_path),
           '--model-name', model_name, '--server-name', host, '--server-port', str(port),
           '--backend', backend, '--tp', str(tp), '--quant-policy', str(quant_policy), '--log-level', log_level]
    if model_format:
        cmd += ['--model-format', model_format]
    if session_len:
        cmd += ['--session-len', str(session_len)]
    if cache_max_entry_count is not None:
        cmd += ['--cache-max-entry-count', str(cache_max_entry_count)]
    if tool_call_parser:
        cmd += ['--tool-call-parser', tool_call_parser]
    if proxy_url:
        cmd += ['--proxy-url', proxy_url]
    if api_key:
        cmd += ['--api-keys', api_key]
    return cmd


def lmdeploy_proxy_command(host: str = '127.0.0.1', port: int = 8000, strategy: str = 'min_expected_latency',
                           python: str | Path | None = None) -> list[str]:
    """LMDeploy's own proxy (`lmdeploy serve proxy`): api_servers started with ``--proxy-url`` register with it
    and it spreads requests over them."""
    if python is None:
        from agentlab import envs
        python = envs.env_python(envs.engine('serve'))
    return [str(python), '-m', 'lmdeploy', 'serve', 'proxy', '--server-name', host, '--server-port', str(port),
            '--strategy', strategy]


def detect_model_format(model_path: Path) -> str | None:
    """'awq' for a folder written by LMDeploy's AWQ (agentlab quantize), else None (LMDeploy decides)."""
    try:
        config = json.loads((Path(model_path) / 'config.json').read_text())
    except (OSError, json.JSONDecodeError):
        return None
    quant = config.get('quantization_config') or {}
    method = str(quant.get('quant_method', '')).lower()
    return method if method in ('awq', 'gptq') else None


# --- helpers --------------------------------------------------------------------------------------------------

def client_host(host: str) -> str:
    """The address a client on this machine uses for a server bound to ``host``."""
    return '127.0.0.1' if host in ('0.0.0.0', '', '::') else host


def base_url(host: str, port: int) -> str:
    h = client_host(host)
    return f'http://[{h}]:{port}/v1' if ':' in h else f'http://{h}:{port}/v1'


def check_port_free(host: str, port: int) -> None:
    """One-line error when ``host:port`` cannot be bound (checked with SO_REUSEADDR, as uvicorn binds)."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AgentlabError(f'port {port} on {host} is already in use; pick another with --port') from None
            raise AgentlabError(f'cannot bind {host}:{port}: {exc.strerror or exc}') from None


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def resolve_local_model(model: str) -> tuple[ModelSpec, Path]:
    spec = parse_model_spec(model)
    if spec.kind == 'endpoint':
        raise AgentlabError(f'{model} is already an endpoint; serve a registered name or a local HF folder')
    return spec, spec.local_path()


def _probe(url: str, api_key: str | None, timeout: float = 2.0) -> int | None:
    req = urllib.request.Request(url, headers={'Authorization': f'Bearer {api_key}'} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


_FAILURES = [
    (r'address already in use|Errno 98', None),      # filled in with the port at run time
    (r'CUDA out of memory|OutOfMemoryError', 'the GPU ran out of memory loading the model'),
    (r'No CUDA GPUs are available|Found no NVIDIA driver|CUDA driver', 'no usable CUDA GPU for LMDeploy'),
    (r'Killed\s*$', 'the server was killed while loading (out of memory?)'),
]


def explain_server_failure(output: str, host: str, port: int) -> str:
    from agentlab.envs import last_error_line
    for pattern, message in _FAILURES:
        if re.search(pattern, output, re.M | re.I):
            return message or f'port {port} on {host} is already in use; pick another with --port'
    return last_error_line(output) or 'no output'


# --- the running server ---------------------------------------------------------------------------------------

@dataclass
class ServerInfo:
    engine: str
    base_url: str                 # http://HOST:PORT/v1
    model_name: str               # what requests must name
    command: list[str]

    @property
    def spec(self) -> str:
        return f'{self.base_url}#{self.model_name}'


class ServerProcess:
    """A model server child process in its own process group: started, health-checked, stopped as a whole."""

    def __init__(self, info: ServerInfo, env: dict[str, str], host: str, port: int, api_key: str | None = None,
                 health_path: str = '/health', echo: Callable[[str], None] | None = None):
        self.info, self.env, self.host, self.port, self.api_key = info, env, host, port, api_key
        self.health_url = info.base_url[:-len('/v1')] + health_path
        self.echo = echo
        self.tail: deque[str] = deque(maxlen=300)
        self.ready = False
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> 'ServerProcess':
        try:
            self.proc = subprocess.Popen(self.info.command, env=self.env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                         errors='replace', bufsize=1, start_new_session=True)
        except OSError as exc:
            raise AgentlabError(f'cannot start {self.info.command[0]}: {exc.strerror or exc}') from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.tail.append(line)
            if self.ready and self.echo:
                self.echo(line)

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Block until the health check answers 200; one-line AgentlabError if the server dies or times out."""
        assert self.proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                if self._reader:
                    self._reader.join(timeout=5)
                reason = explain_server_failure('\n'.join(self.tail), self.host, self.port)
                raise AgentlabError(f'{self.info.engine} server exited (code {code}) before it was ready: {reason}')
            if _probe(self.health_url, self.api_key) == 200:
                self.ready = True
                return
            time.sleep(0.25)
        self.stop()
        raise AgentlabError(f'{self.info.engine} server was not healthy after {timeout:.0f}s '
                            f'({self.health_url}); last output: {explain_server_failure(chr(10).join(self.tail), self.host, self.port)}')

    def stop(self, grace: float = 15.0) -> int | None:
        """Stop the whole process group: SIGINT (uvicorn's clean shutdown), then SIGTERM, then SIGKILL."""
        if not self.proc:
            return None
        self.ready = False          # stop echoing: the shutdown chatter (and click's "Aborted!") is not news
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        # Stragglers in the group (workers the server spawned) go too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._reader:
            self._reader.join(timeout=5)
        return self.proc.returncode

    def __enter__(self) -> 'ServerProcess':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault('HF_HUB_OFFLINE', '1')
    env.setdefault('TRANSFORMERS_OFFLINE', '1')
    env.setdefault('HF_HUB_DISABLE_UPDATE_CHECK', '1')
    env.setdefault('PYTHONUNBUFFERED', '1')
    env.pop(API_KEY_ENV, None)
    if extra:
        env.update(extra)
    return env


@dataclass
class ServeOptions:
    host: str = '127.0.0.1'
    port: int | None = None
    api_key: str | None = None
    # transformers
    device: str = 'auto'
    dtype: str = 'float32'
    # lmdeploy
    tp: int = 1
    quant_policy: int = 0
    model_format: str | None = None          # None: 'awq' when the folder says so, else LMDeploy's own choice
    backend: str = 'turbomind'
    session_len: int | None = None
    cache_max_entry_count: float | None = None
    tool_call_parser: str | None = None
    proxy_url: str | None = None
    ready_timeout: float = 900.0


def prepare_server(model: str, engine: str, options: ServeOptions) -> tuple[ServerProcess, ServerInfo]:
    """Everything short of starting: refusals, model resolution, port check, the command line."""
    if engine not in ENGINES:
        raise AgentlabError(f'unknown engine {engine!r}; choose transformers (CPU or GPU) or lmdeploy (CUDA GPU)')
    if engine == 'lmdeploy':
        from agentlab import envs
        if not envs.cuda_available():
            raise AgentlabError(gpu_refusal('--engine lmdeploy'))
    spec, path = resolve_local_model(model)
    port = options.port or DEFAULT_PORTS[engine]
    check_port_free(options.host, port)
    url = base_url(options.host, port)
    if engine == 'transformers':
        cmd = transformers_command(path, options.host, port, device=options.device, dtype=options.dtype,
                                   api_key=options.api_key)
        info = ServerInfo(engine, url, str(path), cmd)
        env = server_env({API_KEY_ENV: options.api_key} if options.api_key else None)
        return ServerProcess(info, env, options.host, port, options.api_key), info
    from agentlab import envs
    eng = envs.engine('serve')
    envs.ensure(eng)
    fmt = options.model_format or detect_model_format(path)
    cmd = lmdeploy_command(path, spec.label, options.host, port, tp=options.tp, quant_policy=options.quant_policy,
                           model_format=fmt, backend=options.backend, api_key=options.api_key,
                           session_len=options.session_len, cache_max_entry_count=options.cache_max_entry_count,
                           tool_call_parser=options.tool_call_parser, proxy_url=options.proxy_url)
    info = ServerInfo(engine, url, spec.label, cmd)
    return ServerProcess(info, envs.engine_environ(eng), options.host, port, options.api_key,
                         health_path='/v1/models'), info


def redact(cmd: Sequence[str], secret: str | None) -> str:
    return ' '.join('***' if secret and c == secret else c for c in cmd)


def run_serve(model: str, engine: str, options: ServeOptions, out=print) -> None:
    """`agentlab serve`: start, wait for health, print ready + spec, run until Ctrl-C (or SIGTERM), stop cleanly."""
    server, info = prepare_server(model, engine, options)
    out(f'starting {engine}: {redact(info.command, options.api_key)}')
    echo = lambda line: print(f'  {engine}| {line}', file=sys.stderr, flush=True)  # noqa: E731
    server.echo = echo
    from agentlab import envs
    previous = envs.install_stop_signals()
    try:
        started = time.monotonic()
        server.start()
        server.wait_ready(options.ready_timeout)
        out(f'ready in {time.monotonic() - started:.1f}s: {info.base_url} (model {info.model_name})')
        out(f'model spec: {info.spec}')
        hint = ' (with AGENTLAB_API_KEY set to the key)' if options.api_key else ''
        out(f'use it anywhere{hint}: agentlab chat --model {info.spec}')
        out('Ctrl-C stops the server.')
        sys.stdout.flush()
        assert server.proc
        code = server.proc.wait()
        reason = explain_server_failure('\n'.join(server.tail), options.host, server.port)
        raise AgentlabError(f'{engine} server exited unexpectedly (code {code}): {reason}')
    except KeyboardInterrupt:
        out('stopping the server…')
        server.stop()
        out('server stopped')
    except BaseException:
        server.stop()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- quantize (LMDeploy AWQ, GPU) -----------------------------------------------------------------------------

def calibration_source(model_path: Path, calib_data: str | None) -> Path:
    """Where the calibration text comes from: ``--calib-data``, else the data the model was tuned on
    (``WORK_DIR/data/train.jsonl`` beside ``WORK_DIR/merged``, as `agentlab train` lays it out)."""
    if calib_data:
        src = Path(calib_data).expanduser()
        if not src.exists():
            raise AgentlabError(f'--calib-data {calib_data} does not exist')
        return src
    guess = Path(model_path).parent / 'data' / 'train.jsonl'
    if guess.is_file():
        return guess
    raise AgentlabError('no local calibration text: pass --calib-data FILE_OR_DIR (XTuner JSONL from agentlab '
                        'convert/synth, or .txt/.md files); LMDeploy\'s default calibration set is a hub download')


def calibration_texts(source: Path, limit_chars: int = 4_000_000) -> list[str]:
    """Plain texts for calibration from XTuner conversation JSONL (system + input + output of every turn),
    JSON lines with a "text" field, or .txt/.md files (a folder is read recursively)."""
    files = sorted(p for p in source.rglob('*') if p.is_file() and p.suffix in ('.jsonl', '.json', '.txt', '.md')) \
        if source.is_dir() else [source]
    texts: list[str] = []
    total = 0
    for f in files:
        if f.suffix in ('.jsonl', '.json'):
            for line in f.read_text(errors='replace').splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                text = _row_text(row)
                if text:
                    texts.append(text)
                    total += len(text)
                if total >= limit_chars:
                    return texts
        else:
            text = f.read_text(errors='replace').strip()
            if text:
                texts.append(text)
                total += len(text)
        if total >= limit_chars:
            break
    if not texts:
        raise AgentlabError(f'no calibration text found in {source}')
    return texts


def _row_text(row) -> str:
    if isinstance(row, dict) and isinstance(row.get('conversation'), list):
        parts = []
        for turn in row['conversation']:
            if isinstance(turn, dict):
                parts += [str(turn.get(k)) for k in ('system', 'input', 'output', 'content') if turn.get(k)]
        return '\n'.join(parts)
    if isinstance(row, dict) and isinstance(row.get('text'), str):
        return row['text']
    return ''


def quantize_command(model_path: str | Path, out: str | Path, calib_file: str | Path, *, w_bits: int = 4,
                     w_group_size: int = 128, calib_samples: int = 128, calib_seqlen: int = 2048,
                     batch_size: int = 1, search_scale: bool = False,
                     python: str | Path | None = None) -> list[str]:
    """The serve-environment command that runs LMDeploy's AWQ with agentlab's local calibration text."""
    if python is None:
        from agentlab import envs
        python = envs.env_python(envs.engine('serve'))
    cmd = [str(python), str(SCRIPTS / 'awq_local_calib.py'), '--model', str(model_path), '--out', str(out),
           '--calib-text', str(calib_file), '--w-bits', str(w_bits), '--w-group-size', str(w_group_size),
           '--calib-samples', str(calib_samples), '--calib-seqlen', str(calib_seqlen), '--batch-size',
           str(batch_size)]
    if search_scale:
        cmd.append('--search-scale')
    return cmd


def run_quantize(model: str, out: str, w4a16: bool, calib_data: str | None = None, calib_samples: int = 128,
                 calib_seqlen: int = 2048, batch_size: int = 1, search_scale: bool = False, log=print) -> Path:
    from agentlab import envs
    if not envs.cuda_available():
        raise AgentlabError('agentlab quantize runs LMDeploy\'s AWQ, which needs a CUDA GPU, and none was found '
                            'here; on CPU serve the unquantised model: agentlab serve --engine transformers')
    if not w4a16:
        raise AgentlabError('only --w4a16 (AWQ 4-bit weights, 16-bit activations) is supported')
    _, path = resolve_local_model(model)
    out_dir = Path(out).expanduser().resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise AgentlabError(f'{out_dir} is not empty; choose a new --out folder')
    source = calibration_source(path, calib_data)
    texts = calibration_texts(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    calib_file = out_dir / '.calibration.jsonl'
    with open(calib_file, 'w') as fh:
        for t in texts:
            fh.write(json.dumps({'text': t}, ensure_ascii=False) + '\n')
    log(f'calibrating on {len(texts)} local texts from {source}')
    eng = envs.engine('serve')
    envs.ensure(eng, log=log)
    cmd = quantize_command(path, out_dir, calib_file, calib_samples=calib_samples, calib_seqlen=calib_seqlen,
                           batch_size=batch_size, search_scale=search_scale, python=envs.env_python(eng))
    envs.run_logged(cmd, log, prefix='serve', env=envs.engine_environ(eng))
    calib_file.unlink(missing_ok=True)
    if detect_model_format(out_dir) != 'awq':
        raise AgentlabError(f'LMDeploy finished but {out_dir}/config.json has no AWQ quantization_config')
    log(f'AWQ model written to {out_dir}; serve it with: agentlab serve --engine lmdeploy --model {out_dir}')
    return out_dir
