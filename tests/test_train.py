"""`agentlab train`: XTuner's own pipeline masks exactly the right tokens, templates match the tokenizer, a real LoRA
run learns, resumes after an interruption, converts and merges into a model the core environment loads."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentlab import train
from agentlab.engines import envs
from agentlab.engines.results import read_result
from agentlab.engines.scripts_dir import script
from agentlab.engines.xtuner import ITER_LINE, check_parity, render_config
from agentlab.errors import AgentlabError
from agentlab.runtime import protocol
from agentlab.train.data import parse_data_arg, prepare_data

from conftest import run_cli

pytestmark = pytest.mark.engines

CALC = {'name': 'Calculator', 'description': 'Evaluate an arithmetic expression.',
        'parameters': {'type': 'object', 'properties': {'expression': {'type': 'string'}},
                       'required': ['expression']}}


def react_conversation(a: int, b: int, masked_context: bool = False) -> dict:
    """One XTuner conversation in agentlab's ReAct format: call the calculator, read the result, answer."""
    system = protocol.render_system([CALC])
    question = f'What is {a} times {b}?'
    call = protocol.render_action('I should compute it.', 'Calculator', {'expression': f'{a}*{b}'})
    answer = protocol.render_finish('I have the result.', str(a * b))
    turns = [{'system': system, 'input': question, 'output': call, 'output_with_loss': True},
             {'input': protocol.render_response(str(a * b)), 'output': answer, 'output_with_loss': True}]
    if masked_context:   # a context turn that must not be trained (like Agent-FLAN's loss=false turns)
        turns.insert(0, {'system': system, 'input': 'Hello', 'output': 'Hi! How can I help?',
                         'output_with_loss': False})
        turns[1].pop('system')
    return {'conversation': turns}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows), encoding='utf-8')
    return path


@pytest.fixture(scope='module')
def train_data(tmp_path_factory) -> Path:
    rows = [react_conversation(a, b, masked_context=(a + b) % 3 == 0) for a in range(2, 9) for b in range(11, 17)]
    return write_jsonl(tmp_path_factory.mktemp('data') / 'train.jsonl', rows)


def _render_preset(tmp_path: Path, model: Path, data: Path, **values) -> Path:
    cfg = tmp_path / 'config.py'
    cfg.write_text(render_config(train.PRESETS['smollm2-135m-lora-cpu'].file.read_text(), {
        'pretrained_model_name_or_path': str(model), 'data_files': [str(data)], **values}))
    return cfg


def test_masks_and_template_parity_through_xtuners_pipeline(tmp_path, embedded_model):
    """XTuner's own dataset pipeline (no packing): the trained tokens are exactly the outputs of the turns with
    output_with_loss true plus their <|im_end|>, and the whole sample equals the tokenizer's chat template."""
    from transformers import AutoTokenizer
    rows = [react_conversation(3, 12, masked_context=True), react_conversation(4, 13)]
    # The model's default system prompt is what its chat template injects when a conversation has none.
    rows.append({'conversation': [{'system': 'You are a helpful AI assistant named SmolLM, trained by Hugging Face',
                                   'input': 'Say hi', 'output': 'hi', 'output_with_loss': False},
                                  {'input': 'Again', 'output': 'hi again', 'output_with_loss': True}]})
    data = write_jsonl(tmp_path / 'd.jsonl', rows)
    cfg = _render_preset(tmp_path, embedded_model, data)
    out = envs.run_in_env('train', [str(script('xtuner_encode')), str(cfg), str(tmp_path / 'enc.jsonl'),
                                    '--unpacked', '--parity', '10'], cwd=tmp_path, log=None)
    parity = read_result(out)['parity']
    assert parity == {'checked': 3, 'mismatches': [], 'mismatch_count': 0}

    tok = AutoTokenizer.from_pretrained(embedded_model)
    samples = [json.loads(line) for line in (tmp_path / 'enc.jsonl').read_text().splitlines()]
    assert len(samples) == len(rows)
    for row, sample in zip(rows, samples):
        spans, current = [], []
        for token, label in zip(sample['input_ids'], sample['labels']):
            if label == -100:
                if current:
                    spans.append(current)
                current = []
            else:
                assert label == token
                current.append(token)
        if current:
            spans.append(current)
        trained = [tok.decode(s) for s in spans]
        assert trained == [t['output'] + '<|im_end|>' for t in row['conversation'] if t['output_with_loss']]


def test_parity_failure_stops_the_launch():
    bad = {'checked': 4, 'mismatch_count': 1,
           'mismatches': [{'row': 0, 'first_difference': 3, 'xtuner': '<|im_start|><|im_start|>', 'chat_template': 'x'}]}
    with pytest.raises(AgentlabError, match='does not match the tokenizer'):
        check_parity(bad, Path('p.py'))


def test_all_presets_parse_and_qlora_is_refused_without_cuda(tmp_path, train_data, monkeypatch):
    script = ('import sys\nfrom mmengine.config import Config\n'
              'for f in sys.argv[1:]:\n    c = Config.fromfile(f)\n'
              '    print(f, c.max_length, c.lr, c.lora_r, c.pack_to_max_length)\n')
    (tmp_path / 'parse.py').write_text(script)
    files = [str(p.file) for p in train.PRESETS.values()]
    out = envs.run_in_env('train', [str(tmp_path / 'parse.py'), *files], log=None)
    assert 'llama3-8b-instruct-qlora-agentflan.py 4096 0.0002 64 True' in out
    assert 'internlm2_5-7b-chat-qlora-agentflan.py 4096 0.0002 64 True' in out
    assert 'smollm2-135m-lora-cpu.py 1024 0.0005 16 True' in out
    monkeypatch.setenv('AGENTLAB_FORCE_NO_CUDA', '1')
    with pytest.raises(AgentlabError, match='needs a CUDA GPU.*--preset smollm2-135m-lora-cpu'):
        train.run_train('llama3-8b-instruct-qlora-agentflan', None, str(train_data), tmp_path / 'w')


def test_bad_data_is_one_line_error_naming_file_and_line(tmp_path):
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(json.dumps(react_conversation(2, 3)) + '\n' + json.dumps({'messages': []}) + '\n')
    result = run_cli('train', '--preset', 'smollm2-135m-lora-cpu', '--data', str(bad), '--work-dir',
                     str(tmp_path / 'w'))
    assert result.returncode == 1
    assert result.stderr.strip().count('\n') == 0
    assert f'{bad}:2: not XTuner data' in result.stderr


def test_data_mixing_weights(tmp_path):
    a = write_jsonl(tmp_path / 'a.jsonl', [react_conversation(2, i) for i in range(10)])
    b = write_jsonl(tmp_path / 'b.jsonl', [react_conversation(3, i) for i in range(10)])
    stats = prepare_data(parse_data_arg(f'{a}:2,{b}:0.5'), tmp_path / 'mix.jsonl', None, seed=1)
    assert stats['files'][str(a)]['rows'] == 20
    assert 1 <= stats['files'][str(b)]['rows'] <= 9
    assert stats['rows'] == len((tmp_path / 'mix.jsonl').read_text().splitlines())


def test_tiny_data_with_epochs_never_hits_xtuners_warmup_error(tmp_path, embedded_model):
    """Two conversations, --epochs 1: XTuner's own epoch schedule would end warm-up at iteration 0 ("end should be
    larger than begin, but got begin=0, end=0"); agentlab plans iterations from the tokenized data instead."""
    data = write_jsonl(tmp_path / 'tiny.jsonl', [react_conversation(2, 3), react_conversation(4, 5)])
    result = run_cli('train', '--preset', 'smollm2-135m-lora-cpu', '--data', str(data), '--work-dir',
                     str(tmp_path / 'w'), '--epochs', '1', '--max-length', '256', timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / 'w' / 'train_summary.json').read_text())
    assert summary['iterations'] == summary['plan']['max_iters'] >= 1
    assert (tmp_path / 'w' / 'adapter' / 'adapter_config.json').is_file()


def test_failing_engine_run_fails_the_command_with_its_reason(tmp_path, train_data):
    cfg = tmp_path / 'broken.py'
    cfg.write_text(train.PRESETS['smollm2-135m-lora-cpu'].file.read_text().replace(
        "task_type='CAUSAL_LM'", "task_type='CAUSAL_LM', target_modules=['no_such_module']"))
    result = run_cli('train', '--config', str(cfg), '--model', 'smollm2-135m', '--data', str(train_data),
                     '--work-dir', str(tmp_path / 'w'), '--max-iters', '2', timeout=900)
    assert result.returncode == 1
    assert 'no_such_module' in result.stderr
    assert not (tmp_path / 'w' / 'merged').exists()


def _iter_lines(log: Path) -> list[int]:
    return [int(m.group(1)) for m in ITER_LINE.finditer(log.read_text())] if log.exists() else []


def test_real_lora_run_interrupted_resumed_merged(tmp_path, train_data, embedded_model):
    """30 seeded iterations, interrupted after the checkpoint at 10 and resumed: the run ends at 30, the loss falls,
    and the merged model loads in the core environment and generates."""
    work = tmp_path / 'run'
    cmd = [str(Path(sys.executable).parent / 'agentlab'), 'train', '--preset', 'smollm2-135m-lora-cpu', '--data',
           str(train_data), '--work-dir', str(work), '--max-iters', '30', '--save-every', '10', '--max-length', '384',
           '--seed', '7']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        if (work / 'xtuner' / 'iter_10.pth').exists() and max(_iter_lines(work / 'train.log'), default=0) >= 12:
            break
        time.sleep(2)
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    os.killpg(proc.pid, signal.SIGINT)   # what Ctrl-C does
    proc.wait(timeout=120)
    assert proc.returncode != 0
    assert not (work / 'merged').exists()

    result = run_cli('train', '--resume', '--work-dir', str(work), '--preset', 'smollm2-135m-lora-cpu',
                     timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((work / 'train_summary.json').read_text())
    assert summary['resumed_from'] in (10, 20)
    assert summary['iterations'] == 30
    # mmengine's own line, and the first iteration logged after it is the next one
    assert f'resumed epoch: 0, iter: {summary["resumed_from"]}' in (work / 'train.log').read_text()

    losses = dict()
    for it, loss in ((int(m.group(1)), float(m.group(5))) for m in ITER_LINE.finditer(
            (work / 'train.log').read_text())):
        losses[it] = loss
    assert sorted(losses) == list(range(1, 31))
    # warm-up really ends: the learning rate after it is the preset's (5e-4 on a cosine), not lr x 1e-5
    lrs = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r'Iter\(train\)\s*\[\s*(\d+)/30\]\s+lr: (\S+)',
                                                                   (work / 'train.log').read_text())}
    assert lrs[1] < 1e-6 and lrs[3] > 4e-4
    first, last = [losses[i] for i in range(1, 6)], [losses[i] for i in range(26, 31)]
    assert sum(last) / 5 < sum(first) / 5

    assert (work / 'adapter' / 'adapter_config.json').is_file()
    assert summary['merged_dtype'] in ('float16', 'float32', 'bfloat16')
    from agentlab.runtime.backends import GenerationConfig, TransformersBackend
    backend = TransformersBackend(str(work / 'merged'))
    messages = protocol.render_messages([CALC], 'What is 5 times 14?', [])
    text = backend.generate([messages], GenerationConfig(max_new_tokens=24))[0].text
    assert text.strip()
