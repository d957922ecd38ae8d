"""GGUF export (llama.cpp's own converter and quantizer) and the llama.cpp engine, on the real embedded model.

The export and engine tests use the llamacpp environment (llama-cpp-python built from its sdist by `make test`).
Parity is checked against the transformers engine on the same rendered prompts: f16 must decode the same greedy
text, the quantized files must keep the verdicts of a real `agentlab eval` on BFCL cases.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from agentlab.errors import AgentlabError
from agentlab.models.gguf import read_gguf
from tests.conftest import run_cli, start_serve

# --- checking files (core environment only) ---------------------------------------------------------------------


def _tiny_gguf(path, chat_template: str | None = '{{ messages }}'):
    """A small, valid GGUF written with the gguf package (two tensors, a tokenizer vocabulary)."""
    from gguf import GGUFWriter
    w = GGUFWriter(str(path), 'llama')
    w.add_context_length(128)
    w.add_token_list(['<s>', '</s>', 'a'])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    if chat_template:
        w.add_chat_template(chat_template)
    w.add_tensor('a', np.ones((64, 64), dtype=np.float32))
    w.add_tensor('b', np.ones((64,), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_read_gguf_reports_what_is_in_a_good_file(tmp_path):
    info = read_gguf(_tiny_gguf(tmp_path / 'ok.gguf'))
    assert (info.architecture, info.tensors, info.bos_token, info.eos_token) == ('llama', 2, '<s>', '</s>')
    assert info.chat_template == '{{ messages }}' and info.context_length == 128


@pytest.mark.parametrize('case, expected', [
    ('missing', 'no such GGUF file'),
    ('empty', 'not a GGUF file'),
    ('json', "not a GGUF file (starts with b'{\"a\""),
    ('truncated', 'truncated'),
    ('header_only', 'truncated or corrupt'),
    ('no_template', 'has no chat template'),
])
def test_bad_gguf_files_get_one_line_errors(tmp_path, case, expected):
    good = _tiny_gguf(tmp_path / 'good.gguf')
    path = tmp_path / f'{case}.gguf'
    if case == 'empty':
        path.write_bytes(b'')
    elif case == 'json':
        path.write_text('{"a": 1}')
    elif case == 'truncated':
        path.write_bytes(good.read_bytes()[:-1000])
    elif case == 'header_only':
        path.write_bytes(good.read_bytes()[:40])
    elif case == 'no_template':
        _tiny_gguf(path, chat_template=None)
    with pytest.raises(AgentlabError) as err:
        read_gguf(path)
    message = str(err.value)
    assert expected in message and '\n' not in message and str(path) in message


def test_cli_rejects_a_bad_gguf_before_starting_an_engine(tmp_path):
    bad = tmp_path / 'model.gguf'
    bad.write_text('not a model')
    proc = run_cli('eval', '--model', str(bad), '--suite', 'bfcl:simple_python', '--limit', '1',
                   '--out', str(tmp_path / 'run'), timeout=120)
    assert proc.returncode != 0
    assert f'{bad}: not a GGUF file' in proc.stderr and 'Traceback' not in proc.stderr


def test_the_engine_follows_the_model_kind(tmp_path, embedded_model):
    from agentlab.runtime.backends import BackendOptions, make_backend
    with pytest.raises(AgentlabError, match='Export it first'):
        make_backend(str(embedded_model), BackendOptions(engine='llamacpp'))
    with pytest.raises(AgentlabError, match='is a GGUF file'):
        make_backend(str(_tiny_gguf(tmp_path / 'm.gguf')), BackendOptions(engine='transformers'))
    with pytest.raises(AgentlabError, match='unknown engine'):
        make_backend(str(embedded_model), BackendOptions(engine='vllm'))


def test_modelfile_carries_chatml_and_the_protocol_stops(embedded_model):
    from agentlab.export.modelfile import modelfile_text
    template = json.loads((embedded_model / 'tokenizer_config.json').read_text())['chat_template']
    text = modelfile_text('m-q8_0.gguf', template, '<|im_end|>')
    assert 'FROM ./m-q8_0.gguf' in text and '<|im_start|>{{ .Role }}' in text
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in text
    assert 'PARAMETER stop "<|im_end|>"' in text and 'PARAMETER stop "Response:"' in text


# --- export and the engine (llamacpp environment) ----------------------------------------------------------------


@pytest.fixture(scope='module')
def exported(embedded_model, tmp_path_factory):
    """The embedded model exported once per quant this module needs."""
    out = tmp_path_factory.mktemp('gguf')
    files = {}
    for quant in ('f16', 'q8_0'):
        proc = run_cli('export', '--model', str(embedded_model), '--quant', quant,
                       '--out', str(out / f'smollm2-{quant}.gguf'), timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        files[quant] = out / f'smollm2-{quant}.gguf'
    return files


@pytest.mark.engines
@pytest.mark.slow
def test_export_writes_a_checked_gguf_with_template_modelfile_and_manifest(exported, embedded_model):
    for quant, path in exported.items():
        info = read_gguf(path)
        assert info.architecture == 'llama'
        assert info.file_type == {'f16': 'MOSTLY_F16', 'q8_0': 'MOSTLY_Q8_0'}[quant]
        template = json.loads((embedded_model / 'tokenizer_config.json').read_text())['chat_template']
        assert info.chat_template == template and info.eos_token == '<|im_end|>'
        manifest = json.loads(path.with_suffix('.export.json').read_text())
        assert manifest['quant'] == quant and manifest['bytes'] == path.stat().st_size
        assert path.with_suffix('.Modelfile').read_text().startswith('# Ollama')
        assert not list(path.parent.glob('*.partial'))
    assert exported['q8_0'].stat().st_size < 0.6 * exported['f16'].stat().st_size


@pytest.mark.engines
@pytest.mark.slow
def test_k_quant_and_unsupported_architecture(embedded_model, tmp_path):
    out = tmp_path / 'm-q4_k_m.gguf'
    proc = run_cli('export', '--model', str(embedded_model), '--quant', 'q4_k_m', '--out', str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = read_gguf(out)
    assert info.file_type == 'MOSTLY_Q4_K_M' and 'Q4_K' in info.tensor_types
    assert not list(tmp_path.glob('*f32-source*'))

    odd = tmp_path / 'odd'
    shutil.copytree(embedded_model, odd)
    config = json.loads((odd / 'config.json').read_text())
    config['architectures'] = ['NoSuchModelForCausalLM']
    (odd / 'config.json').write_text(json.dumps(config))
    proc = run_cli('export', '--model', str(odd), '--out', str(tmp_path / 'odd.gguf'), timeout=600)
    assert proc.returncode != 0
    assert 'llama.cpp cannot convert this model' in proc.stderr and 'NoSuchModelForCausalLM' in proc.stderr
    assert not (tmp_path / 'odd.gguf').exists() and not (tmp_path / 'odd.gguf.partial').exists()


CHATS = [
    [{'role': 'user', 'content': 'What is the capital of France? Answer in one sentence.'}],
    [{'role': 'system', 'content': 'You are terse.'}, {'role': 'user', 'content': 'Name three prime numbers.'}],
    [{'role': 'user', 'content': 'Write the word hello five times.'}],
]


@pytest.mark.engines
@pytest.mark.slow
def test_llamacpp_f16_decodes_what_transformers_decodes(exported, embedded_model):
    from agentlab.runtime.backends import GenerationConfig
    from agentlab.runtime.backends.llamacpp import LlamaCppBackend
    from agentlab.runtime.backends.transformers import TransformersBackend
    hf = TransformersBackend(embedded_model, threads=1, batch_size=1)
    cpp = LlamaCppBackend(exported['f16'], threads=1, slots=2)
    try:
        assert [cpp.render(c) for c in CHATS] == [hf.render(c) for c in CHATS]
        config = GenerationConfig(max_new_tokens=40, stop=('five', 'Paris'))
        a, b = hf.generate(CHATS, config), cpp.generate(CHATS, config)
        assert [g.text for g in b] == [g.text for g in a]
        assert [g.finish_reason for g in b] == [g.finish_reason for g in a]
        assert [g.prompt_tokens for g in b] == [g.prompt_tokens for g in a]
        assert len({g.finish_reason for g in b}) >= 2        # stop words and budgets were both exercised
        # per-row limits are honoured, as the eval scheduler relies on
        short = cpp.generate(CHATS, config, limits=[3, 40, 5])
        assert [g.completion_tokens <= k for g, k in zip(short, (3, 40, 5))] == [True] * 3
    finally:
        cpp.close()


@pytest.mark.engines
@pytest.mark.slow
def test_eval_on_a_gguf_keeps_the_hf_verdicts(exported, embedded_model, tmp_path):
    runs = {}
    for name, model in (('hf', str(embedded_model)), ('q8_0', str(exported['q8_0']))):
        proc = run_cli('eval', '--model', model, '--suite', 'bfcl:simple_python,bfcl:irrelevance', '--limit', '4',
                       '--out', str(tmp_path / name), timeout=1200)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = {(c['suite'], c['id']): c for c in map(json.loads, (tmp_path / name / 'cases.jsonl').open())}
    assert runs['hf'].keys() == runs['q8_0'].keys() and len(runs['hf']) == 8
    same = sum(runs['hf'][k]['verdict']['correct'] == runs['q8_0'][k]['verdict']['correct'] for k in runs['hf'])
    assert same >= 7
    results = json.loads((tmp_path / 'q8_0' / 'results.json').read_text())
    assert results['backend']['class'] == 'LlamaCppBackend' and results['model']['kind'] == 'gguf'


@pytest.mark.engines
@pytest.mark.slow
def test_serve_a_gguf_with_function_calling(exported):
    """`agentlab serve --model FILE.gguf` runs llama.cpp behind the same bridge: a forced call and a named call come
    back as tool_calls whose arguments match the schema (llama.cpp's own GBNF grammars), "none" as plain content."""
    import signal

    import jsonschema
    from openai import OpenAI

    from agentlab.serve.net import free_port
    schema = {'type': 'object', 'properties': {'hour': {'type': 'integer', 'minimum': 0, 'maximum': 23},
                                               'repeat': {'type': 'string', 'enum': ['once', 'daily']}},
              'required': ['hour', 'repeat']}
    tools = [{'type': 'function', 'function': {'name': 'set_alarm', 'description': 'Set an alarm.',
                                               'parameters': schema}},
             {'type': 'function', 'function': {'name': 'stop_alarm', 'description': 'Stop the alarm.'}}]
    port = free_port()
    proc, lines = start_serve('--model', str(exported['q8_0']), '--port', str(port), '--served-model-name', 'smol',
                              '--slots', '1', '--threads', '1')
    try:
        assert any('--engine llamacpp' in ln for ln in lines), '\n'.join(lines)
        client = OpenAI(base_url=f'http://127.0.0.1:{port}/v1', api_key='unused', max_retries=0, timeout=300)
        ask = [{'role': 'user', 'content': 'Wake me at 7 every day.'}]
        for choice in ('required', {'type': 'function', 'function': {'name': 'set_alarm'}}):
            msg = client.chat.completions.create(model='smol', messages=ask, tools=tools, tool_choice=choice,
                                                 max_tokens=96).choices[0].message
            call = msg.tool_calls[0].function
            assert call.name in ('set_alarm', 'stop_alarm')
            args = json.loads(call.arguments)
            jsonschema.validate(args, schema if call.name == 'set_alarm' else {'type': 'object',
                                                                                'additionalProperties': False})
        msg = client.chat.completions.create(model='smol', messages=ask, tools=tools, tool_choice='none',
                                             max_tokens=48).choices[0].message
        assert not msg.tool_calls and isinstance(msg.content, str)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
