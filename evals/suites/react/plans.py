"""The react suite's tasks, made from hand-written plans by running them with the real tools.

A plan (one line of ``evals/data/react_plans.jsonl``) is a question and the tool calls that answer it; nothing in it
comes from the data engine (``datasets_conv/synth``), which this package never imports. Expected answers are never
written by hand: :func:`build_tasks` executes every plan's calls with the real tools and reads the answer out of
their results, and the tests execute the plans again to prove ``react_builtin.jsonl`` matches.

Arguments and answers may refer to the results of earlier calls (``i`` is the call's position):

* ``{"$result": [i, "key"]}``: a field of call i's JSON result;
* ``{"$output": i}``: call i's printed text, stripped (the Python interpreter);
* ``{"$kb": [i, "regex"]}``: the first group of ``regex`` in the passages a knowledge-base search returned;
* ``{"$paper": [i, "published" | "title" | "first_author"]}``: the first paper of an arXiv search;
* ``{"$number": REF}``, ``{"$int": REF}``: a reference as a float or an int;
* ``{"$format": "{}*3", "args": [REF, ...]}``: a string made from references (``str.format``).

Regenerate the task file with ``python -m agentlab.evals.suites.react.plans``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.evals.suites.react.data import FUNCTION_TOOL, PLAN_FILE, TASK_FILE, TOOLS
from agentlab.evals.suites.react.toolbox import make_toolbox


def _kb_text(obs: Any) -> str:
    return ' '.join(r['text'] for r in obs.get('results', []))


def _paper(obs: Any) -> dict:
    """The first paper of an ArxivSearch result."""
    block = obs['content'].split('\n\n')[0]
    fields = dict(line.split(': ', 1) for line in block.splitlines() if ': ' in line)
    return {'published': fields['Published'], 'title': fields['Title'],
            'first_author': fields['Authors'].split(', ')[0]}


def resolve(spec: Any, obs: list[Any]) -> Any:
    """A plan value with its references to earlier results (module docstring) filled in."""
    if isinstance(spec, list):
        return [resolve(s, obs) for s in spec]
    if not isinstance(spec, dict):
        return spec
    if '$result' in spec:
        i, key = spec['$result']
        return obs[i][key]
    if '$output' in spec:
        return str(obs[spec['$output']]).strip()
    if '$kb' in spec:
        i, pattern = spec['$kb']
        m = re.search(pattern, _kb_text(obs[i]))
        if not m:
            raise AgentlabError(f'knowledge base search result does not contain {pattern!r}')
        return m.group(1)
    if '$paper' in spec:
        i, what = spec['$paper']
        return _paper(obs[i])[what]
    if '$number' in spec:
        return float(resolve(spec['$number'], obs))
    if '$int' in spec:
        return int(resolve(spec['$int'], obs))
    if '$format' in spec:
        return spec['$format'].format(*(resolve(a, obs) for a in spec.get('args', [])))
    return {k: resolve(v, obs) for k, v in spec.items()}


def load_plans(path: Path = PLAN_FILE) -> list[dict]:
    plans = []
    for lineno, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if not line.strip():
            continue
        try:
            plan = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AgentlabError(f'{path}:{lineno}: invalid JSON ({exc.msg})') from None
        for key in ('id', 'question', 'calls', 'answer'):
            if key not in plan:
                raise AgentlabError(f'{path}:{lineno}: a plan needs "{key}"')
        plans.append(plan)
    return plans


def _observation(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def execute_plan(plan: dict, box) -> tuple[list[dict], Any]:
    """Run a plan's calls with the real tools; (the calls with their observations, the expected answer)."""
    obs: list[Any] = []
    calls = []
    for call in plan['calls']:
        name, arguments = call['name'], resolve(call['arguments'], obs)
        result = box.call(name, arguments)
        if not result.ok:
            raise AgentlabError(f'plan call {name}({arguments}) failed: {result.text}')
        obs.append(_observation(result.text))
        calls.append({'name': name, 'arguments': arguments, 'observation': result.text})
    expected = resolve(plan['answer'], obs)
    if isinstance(expected, float) and expected.is_integer():
        expected = int(expected)
    if plan.get('check', 'number') == 'number':
        expected = float(expected) if not isinstance(expected, (int, float)) else expected
        if isinstance(expected, float) and expected.is_integer():
            expected = int(expected)
    return calls, expected


def build_tasks() -> list[dict]:
    """Every task, with its expected answer computed by running its plan's calls with the real tools.
    Ordered round-robin over the tools so that `--limit N` covers several tools."""
    box = make_toolbox()
    by_group: dict[str, list[dict]] = {}
    for plan in load_plans():
        calls, expected = execute_plan(plan, box)
        tools = sorted({FUNCTION_TOOL[c['name']] for c in calls})
        group = plan['id'].split('-')[0]
        by_group.setdefault(group, []).append({
            'id': plan['id'], 'question': plan['question'], 'expected': expected, 'check': plan.get('check', 'number'),
            'tools': tools, 'multi_step': len(calls) > 1, 'plan': calls})
    ordered = []
    groups = list(by_group.values())
    while any(groups):
        for g in groups:
            if g:
                ordered.append(g.pop(0))
    return ordered


def write_tasks(path: Path = TASK_FILE) -> Path:
    tasks = build_tasks()
    path.write_text(''.join(json.dumps(t, ensure_ascii=False) + '\n' for t in tasks), encoding='utf-8')
    return path


def load_tasks(path: Path = TASK_FILE) -> list[dict]:
    if not path.is_file():
        raise AgentlabError(f'no task file at {path}')
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]


if __name__ == '__main__':   # python -m agentlab.evals.suites.react.plans: regenerate the task file
    out = write_tasks()
    tasks = load_tasks(out)
    per_tool = {t: sum(t in task['tools'] for task in tasks) for t in TOOLS}
    multi = sum(task['multi_step'] for task in tasks)
    print(f'{out}: {len(tasks)} tasks, {multi} multi-step ({100 * multi / len(tasks):.0f}%), per tool {per_tool}')
