"""The embedded model: a correct tokenizer, a folder every environment reads, and an atomic, concurrent-safe cache."""

import json
import multiprocessing as mp
import os
import shutil

import pytest

from agentlab.engines import envs
from agentlab.models import pull as model_pull
from agentlab.models.pull import MANIFEST, model_state, pull
from conftest import FIXTURES

PROMPT = 'What is the capital of France? Answer in one word.'


@pytest.fixture(scope='module')
def tokenizer(embedded_model):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(embedded_model)


def test_tokenizer_special_tokens(tokenizer):
    assert tokenizer.eos_token == '<|im_end|>' and tokenizer.pad_token == '<|im_end|>'
    assert tokenizer.eos_token_id == tokenizer.pad_token_id == tokenizer.convert_tokens_to_ids('<|im_end|>')


def test_tokenizer_adds_no_bos_and_round_trips(tokenizer):
    for text in ('Hello world', '  leading spaces', 'Thought: x\nAction: a.b\nAction Input: {"k": "北京"}'):
        ids = tokenizer(text).input_ids
        assert ids[0] != tokenizer.bos_token_id
        assert tokenizer.decode(ids) == text


def test_chat_template_is_chatml_with_single_im_start(tokenizer):
    text = tokenizer.apply_chat_template([{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'U'}],
                                         tokenize=False, add_generation_prompt=True)
    assert text == '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n'
    ids = tokenizer.apply_chat_template([{'role': 'system', 'content': 'S'}], tokenize=True, return_dict=True)
    ids = ids['input_ids']
    assert ids.count(tokenizer.convert_tokens_to_ids('<|im_start|>')) == 1  # no doubled <|im_start|>


def test_folder_has_no_gguf_copy(embedded_model):
    names = {p.name for p in embedded_model.iterdir()}
    assert 'tokenizer.model' not in names and not any(n.endswith('.gguf') for n in names)
    assert model_state('smollm2-135m', verify_hashes=True)[0] == 'ok'


def _greedy(env_name, folder):
    script = str(FIXTURES / 'scripts' / 'greedy_chat.py')     # the same script in every environment
    if env_name == 'core':
        import subprocess
        import sys
        out = subprocess.run([sys.executable, script, str(folder), PROMPT], capture_output=True, text=True,
                             check=True).stdout
    else:
        out = envs.run_in_env(env_name, [script, str(folder), PROMPT], log=None, setup=False)
    line = next(ln for ln in out.splitlines() if ln.startswith('AGENTLAB_RESULT '))
    return json.loads(line.split(' ', 1)[1])


@pytest.mark.slow
@pytest.mark.engines
def test_same_greedy_text_in_core_train_and_bench(embedded_model):
    """The one folder loads and generates identically under transformers 5.x (core), 4.48 (train), 4.57 (bench)."""
    results = {name: _greedy(name, embedded_model) for name in ('core', 'train', 'bench')}
    versions = {name: r['transformers'] for name, r in results.items()}
    assert versions['core'].startswith('5.') and versions['train'] == '4.48.0' and versions['bench'].startswith('4.57')
    for name, r in results.items():
        assert r['stopped_at_eos'], (name, r)
        assert r['eos_token'] == r['pad_token'] == '<|im_end|>' and not r['bos_added'], (name, r)
        assert 'Paris' in r['text'], (name, r)
    core = results['core']
    for name in ('train', 'bench'):
        assert results[name]['prompt_ids'] == core['prompt_ids'], name
        assert results[name]['new_ids'] == core['new_ids'] and results[name]['text'] == core['text'], name


def _pull_in_child(home, queue):
    os.environ['AGENTLAB_HOME'] = home
    os.environ['OMP_NUM_THREADS'] = '1'
    try:
        queue.put(str(pull('smollm2-135m', log=lambda _m: None)))
    except Exception as exc:  # reported to the parent
        queue.put(f'ERROR {exc!r}')


@pytest.mark.slow
def test_concurrent_first_pulls_publish_one_valid_folder(isolated_home):
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_pull_in_child, args=(str(isolated_home), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    final = isolated_home / 'models' / 'smollm2-135m'
    assert results == [str(final), str(final)]
    assert model_state('smollm2-135m', verify_hashes=True)[0] == 'ok'
    leftovers = [p.name for p in (isolated_home / 'models').iterdir() if p.name.startswith('.smollm2-135m.p')]
    assert leftovers == []


def test_corrupt_cache_is_reported_and_repaired_by_force(isolated_home, embedded_model, monkeypatch):
    folder = isolated_home / 'models' / 'smollm2-135m'
    shutil.copytree(embedded_model, folder)
    assert model_state('smollm2-135m')[0] == 'ok'
    with open(folder / 'config.json', 'a') as fh:
        fh.write(' ')
    status, _, detail = model_state('smollm2-135m')
    assert status == 'broken' and 'config.json' in detail and '--force' in detail
    (folder / MANIFEST).unlink()
    assert model_state('smollm2-135m')[0] == 'broken'
    # A pull over a broken folder converts again (simulated conversion: the real one is covered above).

    def fake_convert(model, gguf, out):
        shutil.copytree(embedded_model, out)
    monkeypatch.setattr(model_pull, '_convert', fake_convert)
    assert pull('smollm2-135m', log=lambda _m: None) == folder
    assert model_state('smollm2-135m', verify_hashes=True)[0] == 'ok'


def test_interrupted_conversion_publishes_nothing(isolated_home, monkeypatch):
    def crash(model, gguf, out):
        out.mkdir(parents=True)
        (out / 'model.safetensors').write_bytes(b'partial')
        raise KeyboardInterrupt
    monkeypatch.setattr(model_pull, '_convert', crash)
    with pytest.raises(KeyboardInterrupt):
        pull('smollm2-135m', log=lambda _m: None)
    models = isolated_home / 'models'
    assert not (models / 'smollm2-135m').exists()
    assert [p.name for p in models.iterdir() if not p.name.endswith('.lock')] == []
    assert model_state('smollm2-135m')[0] == 'missing'
