"""`agentlab serve`: an OpenAI-compatible endpoint for any local model.

By default agentlab's own server (agentlab.serve.api): OpenAI function calling bridged onto the ReAct protocol the
model was trained on, on the in-process transformers engine (an HF folder, CPU or GPU) or llama.cpp (a .gguf file).
``--raw`` runs an engine's own server instead, without the bridge:
  * ``transformers``: ``transformers serve`` from the core environment (CPU or GPU), the model preloaded and pinned;
  * ``lmdeploy``: ``lmdeploy serve api_server`` from the isolated serve environment (CUDA GPUs only; LMDeploy has no
    CPU engine), with tensor parallelism, KV-cache quantisation (quant policy 4/8), AWQ models and registration with
    LMDeploy's own proxy for scale-out across servers. (LMDeploy is served raw whatever --raw says: its pipeline
    lives in the serve environment, where the bridge does not run yet.)

Either way `agentlab serve` waits until the server answers its health check, then prints ``ready``, the base URL and
the model spec every other command takes (``http://HOST:PORT/v1#MODEL``). Ctrl-C stops the server and everything it
started. A port in use, a model that fails to load or a server that dies is a one-line error.

The exact command lines are built by agentlab.engines.hf_serve and agentlab.engines.lmdeploy (tests assert them).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from agentlab import procs
from agentlab.engines import envs
from agentlab.engines.hf_serve import API_KEY_ENV, transformers_command
from agentlab.engines.lmdeploy import detect_model_format, lmdeploy_command
from agentlab.errors import AgentlabError
from agentlab.host import cuda_available
from agentlab.models import ModelSpec, parse_model_spec
from agentlab.serve.net import base_url, check_port_free, http_status

ENGINES = ('transformers', 'llamacpp', 'lmdeploy')
DEFAULT_PORTS = {'transformers': 8000, 'llamacpp': 8000, 'lmdeploy': 23333}


def gpu_refusal(what: str) -> str:
    return (f'{what} needs a CUDA GPU (LMDeploy has no CPU engine) and none was found here; '
            'on CPU use: agentlab serve --engine transformers')


def resolve_local_model(model: str) -> tuple[ModelSpec, Path]:
    spec = parse_model_spec(model)
    if spec.kind == 'endpoint':
        raise AgentlabError(f'{model} is already an endpoint; serve a registered name or a local HF folder')
    return spec, spec.local_path()


def explain_server_failure(output: str, host: str, port: int) -> str:
    if re.search(r'address already in use|Errno 98', output, re.I):
        return f'port {port} on {host} is already in use; pick another with --port'
    return procs.explain_failure(output) or procs.last_error_line(output) or 'no output'


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
        self.proc = procs.start(self.info.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors='replace', bufsize=1)
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
            if http_status(self.health_url, self.api_key) == 200:
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
        code = procs.stop_group(self.proc, ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)))
        if self._reader:
            self._reader.join(timeout=5)
        return code

    def __enter__(self) -> 'ServerProcess':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = procs.offline_environ(dict(os.environ))
    env.setdefault('HF_HUB_DISABLE_UPDATE_CHECK', '1')
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
    # agentlab's server
    raw: bool = False                        # the engine's own server, no tool-calling bridge
    served_model_names: tuple[str, ...] = ()
    free_decoding: bool = False
    threads: int | None = None
    slots: int | None = None


def prepare_server(model: str, engine: str | None, options: ServeOptions) -> tuple[ServerProcess, ServerInfo]:
    """Everything short of starting: refusals, model resolution, port check, the command line."""
    if engine is not None and engine not in ENGINES:
        raise AgentlabError(f'unknown engine {engine!r}; choose transformers (CPU or GPU), llamacpp (a .gguf file) '
                            'or lmdeploy (CUDA GPU)')
    if engine == 'lmdeploy' and not cuda_available():
        raise AgentlabError(gpu_refusal('--engine lmdeploy'))
    spec, path = resolve_local_model(model)
    engine = engine or ('llamacpp' if spec.kind == 'gguf' else 'transformers')
    if spec.kind == 'gguf' and engine != 'llamacpp':
        raise AgentlabError(f'{model} is a GGUF file: serve it with --engine llamacpp (the default for .gguf)')
    if engine == 'llamacpp' and spec.kind != 'gguf':
        raise AgentlabError(f'--engine llamacpp serves GGUF files; export {model} first: agentlab export --model '
                            f'{model} --format gguf --quant q8_0 --out MODEL.gguf')
    if engine == 'llamacpp' and options.raw:
        raise AgentlabError('--raw has no llama.cpp server here (llama-server is not built); run the .gguf in '
                            'llama-server --jinja or Ollama yourself, or drop --raw')
    port = options.port or DEFAULT_PORTS[engine]
    check_port_free(options.host, port)
    url = base_url(options.host, port)
    if engine != 'lmdeploy' and not options.raw:
        names = list(options.served_model_names) or [model]
        cmd = bridge_command(str(path), engine, options.host, port, names, options)
        info = ServerInfo('agentlab', url, names[0], cmd)
        env = server_env({API_KEY_ENV: options.api_key} if options.api_key else None)
        return ServerProcess(info, env, options.host, port, options.api_key), info
    if engine == 'transformers':
        cmd = transformers_command(path, options.host, port, device=options.device, dtype=options.dtype,
                                   api_key=options.api_key)
        info = ServerInfo(engine, url, str(path), cmd)
        env = server_env({API_KEY_ENV: options.api_key} if options.api_key else None)
        return ServerProcess(info, env, options.host, port, options.api_key), info
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


def bridge_command(path: str, engine: str, host: str, port: int, names: Sequence[str], options: ServeOptions,
                   python: str | None = None) -> list[str]:
    """agentlab's own server (agentlab.serve.api) in a child process of this environment's python."""
    cmd = [python or sys.executable, '-m', 'agentlab.serve.api', path, '--engine', engine, '--host', host,
           '--port', str(port)]
    for n in names:
        cmd += ['--served-model-name', n]
    if options.free_decoding:
        cmd.append('--free-decoding')
    if options.threads:
        cmd += ['--threads', str(options.threads)]
    if options.slots:
        cmd += ['--slots', str(options.slots)]
    if engine == 'transformers':
        cmd += ['--dtype', options.dtype]
        if options.device and options.device != 'auto':
            cmd += ['--device', options.device]
    return cmd


def redact(cmd: Sequence[str], secret: str | None) -> str:
    return ' '.join('***' if secret and c == secret else c for c in cmd)


def run_serve(model: str, engine: str | None, options: ServeOptions, out=print) -> None:
    """`agentlab serve`: start, wait for health, print ready + spec, run until Ctrl-C (or SIGTERM), stop cleanly."""
    server, info = prepare_server(model, engine, options)
    engine = info.engine
    out(f'starting {engine}: {redact(info.command, options.api_key)}')
    echo = lambda line: print(f'  {engine}| {line}', file=sys.stderr, flush=True)  # noqa: E731
    server.echo = echo
    previous = procs.install_stop_signals()
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
        procs.restore_signals(previous)
