"""Training benchmark: `agentlab train` (XTuner) versus a plain peft + transformers Trainer loop, side by side on CPU.

Same model (the embedded SmolLM2-135M), same samples (XTuner's own packed encoding of the same data), same LoRA
rank/alpha/dropout and target modules, same sequence length, batch 1, one thread each. Throughput is trained tokens
per second over the last ten iterations (mmengine logs a ten-iteration average; the baseline's last ten steps are
averaged the same way), so start-up and warm-up are excluded on both sides.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from pathlib import Path

from agentlab.engines import envs
from agentlab.runtime import protocol
from agentlab.perf import BenchResult

# The baseline: a plain peft + transformers loop, run in the train environment (perf-only, so not an engine script)
PLAIN_LOOP = Path(__file__).parent / 'scripts' / 'plain_lora_loop.py'

CALC = {'name': 'Calculator', 'description': 'Evaluate an arithmetic expression.',
        'parameters': {'type': 'object', 'properties': {'expression': {'type': 'string'}}, 'required': ['expression']}}


def _bench_rows(n: int) -> list[dict]:
    system = protocol.render_system([CALC])
    rows = []
    for i in range(n):
        a, b = 3 + i % 17, 11 + i % 29
        rows.append({'conversation': [
            {'system': system, 'input': f'What is {a} times {b}?', 'output_with_loss': True,
             'output': protocol.render_action('I should compute it.', 'Calculator', {'expression': f'{a}*{b}'})},
            {'input': protocol.render_response(str(a * b)), 'output_with_loss': True,
             'output': protocol.render_finish('I have the result.', str(a * b))}]})
    return rows


def training_throughput(iters: int = 20, max_length: int = 512, rows: int = 120) -> BenchResult:
    from agentlab.engines.results import read_result
    from agentlab.train import PRESETS, run_train
    with tempfile.TemporaryDirectory(prefix='agentlab-bench-train-') as tmp:
        work = Path(tmp)
        data = work / 'data.jsonl'
        data.write_text(''.join(json.dumps(r) + '\n' for r in _bench_rows(rows)))
        summary = run_train('smollm2-135m-lora-cpu', None, str(data), work / 'run', max_iters=iters,
                            max_length=max_length, threads=1, log=lambda _m: None)
        encoded = work / 'run' / 'xtuner' / 'encoded.jsonl'
        lengths = [len(json.loads(line)['input_ids']) for line in encoded.read_text().splitlines()]
        tokens_per_step = sum(lengths) / len(lengths)
        xtuner_step = summary['iteration_seconds'][-1][1]   # mmengine's average over the last ten iterations
        preset = PRESETS['smollm2-135m-lora-cpu'].file.read_text()

        def setting(name: str) -> str:
            return re.search(rf'^{name} = (\S+)', preset, re.M).group(1)

        out = envs.run_in_env('train', [str(PLAIN_LOOP), summary['base_model'], str(encoded),
                                        str(iters), setting('lr'), setting('lora_r'), setting('lora_alpha'),
                                        setting('lora_dropout')],
                              cwd=work, extra_env={'OMP_NUM_THREADS': '1'}, log=None)
        plain = read_result(out, 'plain_lora_loop')
    plain_step = statistics.mean(plain['step_seconds'][-10:])
    xtuner_tps, plain_tps = tokens_per_step / xtuner_step, plain['tokens_per_step'] / plain_step
    ratio = xtuner_tps / plain_tps
    return BenchResult('training throughput (XTuner LoRA vs plain peft Trainer)', 'trained tokens/s',
                       round(xtuner_tps, 1), round(plain_tps, 1), round(ratio, 3), '>= 0.9', ratio >= 0.9,
                       {'iterations': iters, 'max_length': max_length, 'tokens_per_step': round(tokens_per_step, 1),
                        'xtuner_step_seconds': round(xtuner_step, 3), 'plain_step_seconds': round(plain_step, 3),
                        'xtuner_peak_rss_mib': round((summary['peak_rss_bytes'] or 0) / 2**20),
                        'plain_peak_rss_mib': round(plain['peak_rss_bytes'] / 2**20),
                        'xtuner_last_loss': summary['loss_curve'][-1][1],
                        'plain_last_loss': plain['losses'][-1] if plain['losses'] else None})
