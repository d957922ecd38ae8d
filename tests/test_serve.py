"""`agentlab serve` / `agentlab quantize`: agentlab's own server on the embedded model driven by the agent through
the OpenAI-compatible backend (same greedy text as in-process), clean Ctrl-C, one-line failures, the GPU refusals on
CPU, and the exact LMDeploy command lines."""

from __future__ import annotations

import json
import signal
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agentlab.errors import AgentlabError
from agentlab.engines.hf_serve import transformers_command
from agentlab.engines.lmdeploy import detect_model_format, lmdeploy_command, lmdeploy_proxy_command, quantize_command
from agentlab.engines.scripts_dir import SCRIPTS
from agentlab.serve.net import free_port
from agentlab.serve.quantize import calibration_source, calibration_texts
from conftest import run_cli, start_serve

NO_GPU = {'AGENTLAB_FORCE_NO_CUDA': '1'}
PY = '/envs/serve/bin/python'


def _one_line_error(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 1 and len(lines) == 1, (res.returncode, res.stderr[-2000:])
    assert lines[0].startswith('agentlab: error: ')
    return lines[0]


# --- refusals on CPU ------------------------------------------------------------------------------------------

def test_lmdeploy_serve_refused_on_cpu_naming_the_alternative():
    line = _one_line_error(run_cli('serve', '--engine', 'lmdeploy', '--model', 'smollm2-135m', env=NO_GPU,
                                   timeout=120))
    assert 'CUDA GPU' in line and '--engine transformers' in line


def test_quantize_refused_on_cpu():
    line = _one_line_error(run_cli('quantize', '--w4a16', '--out', '/tmp/agentlab-never-written', env=NO_GPU,
                                   timeout=120))
    assert 'CUDA GPU' in line and "LMDeploy's AWQ" in line
    assert not Path('/tmp/agentlab-never-written').exists()


def test_unknown_engine_and_endpoint_models_are_refused():
    assert 'unknown engine' in _one_line_error(run_cli('serve', '--engine', 'vllm', timeout=120))
    assert 'already an endpoint' in _one_line_error(
        run_cli('serve', '--model', 'http://127.0.0.1:9/v1#m', timeout=120))


# --- the exact command lines ----------------------------------------------------------------------------------

def test_lmdeploy_api_server_command_lines():
    base = [PY, '-m', 'lmdeploy', 'serve', 'api_server', '/models/tuned', '--model-name', 'tuned',
            '--server-name', '127.0.0.1', '--server-port', '23333', '--backend', 'turbomind']
    assert lmdeploy_command('/models/tuned', 'tuned', '127.0.0.1', 23333, python=PY) == \
        base + ['--tp', '1', '--quant-policy', '0', '--log-level', 'WARNING']
    # tensor parallelism, 8-bit KV cache, an AWQ model, a key, registration with LMDeploy's proxy
    assert lmdeploy_command('/models/tuned', 'tuned', '127.0.0.1', 23333, tp=2, quant_policy=8, model_format='awq',
                            api_key='s3cret', session_len=8192, tool_call_parser='internlm',
                            proxy_url='http://10.0.0.5:8000', python=PY) == \
        base + ['--tp', '2', '--quant-policy', '8', '--log-level', 'WARNING', '--model-format', 'awq',
                '--session-len', '8192', '--tool-call-parser', 'internlm', '--proxy-url', 'http://10.0.0.5:8000',
                '--api-keys', 's3cret']
    assert lmdeploy_command('/m', 'm', '0.0.0.0', 1, quant_policy=4, backend='pytorch', python=PY)[12:18] == \
        ['--backend', 'pytorch', '--tp', '1', '--quant-policy', '4']
    assert lmdeploy_proxy_command('0.0.0.0', 8000, python=PY) == \
        [PY, '-m', 'lmdeploy', 'serve', 'proxy', '--server-name', '0.0.0.0', '--server-port', '8000',
         '--strategy', 'min_expected_latency']
    for bad in (dict(quant_policy=3), dict(tp=3), dict(backend='vllm'), dict(model_format='gguf')):
        with pytest.raises(AgentlabError):
            lmdeploy_command('/m', 'm', '127.0.0.1', 1, python=PY, **bad)


def test_lmdeploy_command_uses_the_serve_environment_and_detects_awq(tmp_path, isolated_home):
    from agentlab.engines import envs
    cmd = lmdeploy_command('/m', 'm', '127.0.0.1', 1)
    assert cmd[0] == str(envs.env_python(envs.engine('serve')))
    assert cmd[0].startswith(str(isolated_home / 'envs' / 'serve-'))
    (tmp_path / 'config.json').write_text(json.dumps({'quantization_config': {'quant_method': 'awq', 'bits': 4}}))
    assert detect_model_format(tmp_path) == 'awq'
    (tmp_path / 'config.json').write_text('{}')
    assert detect_model_format(tmp_path) is None


def test_transformers_serve_command_lines():
    exe = str(Path(sys.executable).parent / 'transformers')
    assert transformers_command('/m', '127.0.0.1', 8000, device='cpu') == \
        [exe, 'serve', '/m', '--host', '127.0.0.1', '--port', '8000', '--device', 'cpu', '--dtype', 'float32',
         '--log-level', 'warning']
    with_key = transformers_command('/m', '127.0.0.1', 8000, api_key='s3cret')
    assert with_key[:2] == [sys.executable, str(SCRIPTS / 'transformers_serve_auth.py')]
    assert with_key[2:] == ['serve', '/m', '--host', '127.0.0.1', '--port', '8000', '--device', 'auto',
                            '--dtype', 'float32', '--log-level', 'warning']
    assert 's3cret' not in with_key          # the key goes through the environment, not argv


def test_quantize_calibrates_on_local_text(tmp_path):
    work = tmp_path / 'work'
    (work / 'merged').mkdir(parents=True)
    (work / 'data').mkdir()
    rows = [{'conversation': [{'system': 'You can use tools.', 'input': 'What is 2+2?',
                               'output': 'Thought: add\nAction: Calculator\nAction Input: {"expression": "2+2"}'},
                              {'input': 'Response: {"result": 4}', 'output': 'Final Answer: 4'}]}]
    (work / 'data' / 'train.jsonl').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    # default: the data the model was tuned on, beside WORK_DIR/merged
    assert calibration_source(work / 'merged', None) == work / 'data' / 'train.jsonl'
    texts = calibration_texts(work / 'data' / 'train.jsonl')
    assert texts == ['You can use tools.\nWhat is 2+2?\nThought: add\nAction: Calculator\nAction Input: '
                     '{"expression": "2+2"}\nResponse: {"result": 4}\nFinal Answer: 4']
    (tmp_path / 'notes').mkdir()
    (tmp_path / 'notes' / 'a.md').write_text('# Notes\nplain text')
    assert calibration_texts(tmp_path / 'notes') == ['# Notes\nplain text']
    with pytest.raises(AgentlabError, match='--calib-data'):
        calibration_source(tmp_path / 'elsewhere', None)
    assert quantize_command('/m', '/out', '/out/.calibration.jsonl', python=PY) == \
        [PY, str(SCRIPTS / 'awq_local_calib.py'), '--model', '/m', '--out', '/out', '--calib-text',
         '/out/.calibration.jsonl', '--w-bits', '4', '--w-group-size', '128', '--calib-samples', '128',
         '--calib-seqlen', '2048', '--batch-size', '1']


# --- one-line failures ----------------------------------------------------------------------------------------

def test_port_in_use_is_a_one_line_error():
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_line_error(run_cli('serve', '--port', str(port), timeout=120))
    assert line == f'agentlab: error: port {port} on 127.0.0.1 is already in use; pick another with --port'


@pytest.mark.slow
def test_model_that_fails_to_load_is_a_one_line_error(tmp_path):
    bad = tmp_path / 'broken-model'
    bad.mkdir()
    (bad / 'config.json').write_text(json.dumps({'model_type': 'llama', 'architectures': ['LlamaForCausalLM']}))
    line = _one_line_error(run_cli('serve', '--model', str(bad), '--port', str(free_port()), timeout=300))
    assert 'agentlab server exited' in line and 'before it was ready' in line and 'cannot load' in line


# --- the real thing -------------------------------------------------------------------------------------------

def _get(url: str, key: str | None = None) -> int:
    req = urllib.request.Request(url, headers={'Authorization': f'Bearer {key}'} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_serve_transformers_then_agent_gets_the_in_process_greedy_text(embedded_model, monkeypatch):
    """`agentlab serve --engine transformers` (agentlab's server, with a key): the agent's ReAct runtime through
    OpenAIBackend (no `tools`: the messages pass through as rendered) gets the same greedy steps as the in-process
    backend; then Ctrl-C stops the server and everything it started."""
    from agentlab.runtime.agent import Agent
    from agentlab.runtime.backends import GenerationConfig, TransformersBackend, make_backend
    from agentlab.tools import ToolBox

    port, key = free_port(), 'test-key-123'
    # The in-process reference runs first; the server loads after it (one heavy process at a time).
    tools = ToolBox.from_spec('calculator')
    gen = GenerationConfig(max_new_tokens=32)
    question = 'What is 17 * 23? Use the calculator.'
    local = Agent(TransformersBackend(embedded_model, threads=1), tools, max_turns=2, generation=gen).run(question)
    proc, lines = start_serve('--engine', 'transformers', '--model', 'smollm2-135m', '--port', str(port),
                              '--api-key', key, timeout=240)
    try:
        out = '\n'.join(lines)
        assert 'ready in' in out, out + proc.stderr.read() if proc.poll() is not None else out
        base = f'http://127.0.0.1:{port}/v1'
        spec = f'{base}#smollm2-135m'
        assert f'model spec: {spec}' in lines and key not in out

        assert _get(f'http://127.0.0.1:{port}/health') == 200          # health stays open
        assert _get(f'{base}/models') == 401                            # everything else needs the key
        monkeypatch.setenv('AGENTLAB_API_KEY', key)
        remote = Agent(make_backend(spec), tools, max_turns=2, generation=gen).run(question)
        assert [s.raw_output for s in remote.steps] == [s.raw_output for s in local.steps]
        assert remote.steps[0].raw_output and remote.status == local.status
        assert remote.steps[0].prompt_tokens == local.steps[0].prompt_tokens     # the same prompt, token for token

        proc.send_signal(signal.SIGINT)                                  # Ctrl-C
        rest, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert 'server stopped' in rest
        with socket.socket() as s:                                       # the port is free again
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
