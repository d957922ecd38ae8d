"""`react:builtin`: agentlab's own held-out tasks over the built-in tools, run end to end with real tool execution.

The tasks live in `evals/data/react_builtin.jsonl` (made from hand-written plans: :mod:`.plans`). Each has a
question, the tools a correct solution calls (its plan, with every call's real observation), and an expected answer.

Two tools are pointed at held-out resources so the expected answers cannot drift and nothing leaks from training
data: the knowledge base searches `evals/data/react_kb/` (a fictional company's documents, not the default
`configs/knowledge`), and the arXiv tool, the real `arxiv` client, talks to a local stand-in of arXiv's Atom API
serving the 20 papers in `evals/data/arxiv_corpus.json` (the machine has no network, and live arXiv results change).

A run offers every built-in tool in every task and runs the runtime's own ReAct episode
(:class:`agentlab.runtime.episode.ReactEpisode` with the runtime's :func:`~agentlab.runtime.episode.act`: tool
results as `Response:` turns, bad output as an observation). Metrics: task success (the final answer holds the
expected value), exec success (the model made at least one call and every call ran without error), tool-name
accuracy (the set of functions called equals the plan's), hallucinated tools, strict/tolerant parse rates, mean
steps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from agentlab.evals.metrics import rate_of
from agentlab.evals.suites.react.answers import answer_matches
from agentlab.evals.suites.react.data import ARXIV_CORPUS, KB_DIR, TASK_FILE, TOOLS
from agentlab.evals.suites.react.plans import load_tasks
from agentlab.evals.suites.react.toolbox import make_toolbox
from agentlab.runtime import protocol
from agentlab.runtime.backends.base import GenerationConfig
from agentlab.runtime.episode import ReactEpisode, act
from agentlab.runtime.trace import Step, transcript, usage

MAX_NEW_TOKENS = 128
MAX_STEPS = 5


@dataclass
class ReactSuite:
    source: str = 'builtin'
    parse_mode: protocol.ParseMode = 'tolerant'
    max_new_tokens: int = MAX_NEW_TOKENS
    max_steps: int = MAX_STEPS
    kind: str = 'react'
    _tasks: list[dict] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.path = TASK_FILE if self.source == 'builtin' else Path(self.source)
        self._tasks = load_tasks(self.path)
        self._box = None

    @property
    def name(self) -> str:
        return f'react:{self.source}'

    primary_metric = 'task_success'

    def generation(self) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens)

    def settings(self) -> dict:
        return {'max_new_tokens': self.max_new_tokens, 'max_steps': self.max_steps, 'parse_mode': self.parse_mode,
                'temperature': 0.0, 'stop': list(protocol.STOP_WORDS), 'tools': list(TOOLS)}

    def data_info(self) -> dict:
        info = {'file': self.path.name, 'file_sha256': hashlib.sha256(self.path.read_bytes()).hexdigest()}
        if self.source == 'builtin':
            kb = hashlib.sha256()
            for f in sorted(KB_DIR.glob('*.md')):
                kb.update(f.name.encode() + f.read_bytes())
            info['knowledge_sha256'] = kb.hexdigest()
            info['arxiv_corpus_sha256'] = hashlib.sha256(ARXIV_CORPUS.read_bytes()).hexdigest()
        return info

    def cases(self) -> list[dict]:
        return self._tasks

    def prompt_size(self, case: dict) -> int:
        return len(case['question'])

    def toolbox(self):
        """The tools every task is offered (built once: the offline arXiv server and the knowledge index)."""
        if self._box is None:
            self._box = make_toolbox()
        return self._box

    def episode(self, case: dict):
        box = self.toolbox()
        messages = protocol.render_messages(box.descriptions(), case['question'], [])
        episode = ReactEpisode(messages, lambda step: act(step, box), self.max_steps, self.parse_mode)
        steps = yield from episode.turns()
        return self.score(case, steps, episode.final_answer, box.names())

    def score(self, case: dict, steps: list[Step], final: str | None, offered: list[str]) -> dict:
        calls = [s for s in steps if s.tool is not None and s.arguments is not None]
        gold = {c['name'] for c in case['plan']}
        verdict = {
            'correct': answer_matches(final, case['expected'], case['check']),
            'task_success': answer_matches(final, case['expected'], case['check']),
            'exec_success': bool(calls) and all(s.error is None for s in calls),
            'tool_name': {s.tool for s in calls} == gold,
            'hallucinated_tool': any(s.tool is not None and s.tool not in offered for s in steps),
            'strict_parse': all(s.strict for s in steps), 'tolerant_parse': all(s.tolerant for s in steps),
            'finished': final is not None,
            'expected': case['expected'], 'final_answer': final,
        }
        record = {'id': case['id'], 'raw_output': transcript(steps), 'outputs': [s.raw_output for s in steps],
                  'parsed_calls': [{'name': s.tool, 'arguments': s.arguments} for s in calls],
                  'verdict': verdict, 'multi_step': case['multi_step'], 'tools': case['tools'],
                  'steps_detail': [s.to_case() for s in steps]}
        record.update(usage(steps))
        return record

    def metrics(self, records: list[dict]) -> dict:
        v = [r['verdict'] for r in records]
        return {'task_success': rate_of(x['task_success'] for x in v),
                'exec_success': rate_of(x['exec_success'] for x in v),
                'tool_name_accuracy': rate_of(x['tool_name'] for x in v),
                'hallucinated_tool': rate_of((x['hallucinated_tool'] for x in v), higher_is_better=False),
                'strict_parse': rate_of(x['strict_parse'] for x in v),
                'tolerant_parse': rate_of(x['tolerant_parse'] for x in v),
                'finished': rate_of(x['finished'] for x in v),
                'task_success_multi_step': rate_of(x['task_success'] for x, r in zip(v, records)
                                                   if r.get('multi_step'))}
