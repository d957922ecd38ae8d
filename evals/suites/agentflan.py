"""`agentflan:FILE`: next-action accuracy on held-out converted conversations (XTuner's format).

FILE holds one `{"conversation": [{"system", "input", "output", "output_with_loss"}, ...]}` per line, as
`agentlab convert` writes it (e.g. its val.jsonl). Every trained turn (`output_with_loss` true, missing = true)
whose reference output parses under Lagent's strict rules becomes a case: the model sees the conversation up to
that turn (rendered exactly as the training data is: system, then user input, then the reference assistant turns
before it) and writes one turn. Reference turns that are not a tool call or a Final Answer (format-following Q&A,
plain prose) are not next-action cases; data_info counts them.

Verdict: the next action is right when the model calls the reference tool with the reference arguments (equal
as JSON values; 1 and 1.0 are equal), or, when the reference gives a Final Answer, when the model gives one too.
Tool-name accuracy counts the name alone (over call references); hallucinated tools are names the conversation's
system prompt does not offer.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.evals.metrics import rate_of
from agentlab.runtime import protocol
from agentlab.runtime.backends.base import GenerationConfig
from agentlab.runtime.episode import ReactEpisode
from agentlab.runtime.trace import transcript, usage

MAX_NEW_TOKENS = 192


def canonical(value: Any) -> Any:
    """JSON-equal values compare equal: integral floats become ints, tuples lists, keys strings."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def offered_tools(system: str) -> list[str] | None:
    """The tool names a ReAct system prompt offers (its `should be one of [...]` list), or None if it has none."""
    for pattern in (r'should be one of \[(\[.*?\])\]', r'你的工具必须从 \[(\[.*?\])\] 选择', r'should be one of (\[.*?\])'):
        m = re.search(pattern, system or '')
        if m:
            try:
                names = ast.literal_eval(m.group(1))
            except (ValueError, SyntaxError):
                continue
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return names
    return None


def load_cases(path: Path) -> tuple[list[dict], dict]:
    if not path.is_file():
        raise AgentlabError(f'no such file: {path} (agentflan:FILE takes a converted XTuner JSONL file)')
    cases: list[dict] = []
    counts = {'conversations': 0, 'trained_turns': 0, 'cases': 0, 'skipped_not_an_action': 0, 'bad_lines': 0}
    for line_no, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if not line.strip():
            continue
        try:
            pairs = json.loads(line)['conversation']
            assert isinstance(pairs, list)
        except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
            counts['bad_lines'] += 1
            continue
        counts['conversations'] += 1
        messages: list[dict] = []
        system_text = ''
        for j, pair in enumerate(pairs):
            if pair.get('system'):
                system_text = pair['system'] if not system_text else system_text
                messages.append({'role': 'system', 'content': pair['system']})
            messages.append({'role': 'user', 'content': pair.get('input', '')})
            output = pair.get('output', '')
            if pair.get('output_with_loss', True):
                counts['trained_turns'] += 1
                ref = protocol.parse(output, 'strict')
                if ref.ok:
                    cases.append({'id': f'{line_no}:{j}', 'messages': [dict(m) for m in messages],
                                  'reference': output, 'offered': offered_tools(system_text)})
                else:
                    counts['skipped_not_an_action'] += 1
            messages.append({'role': 'assistant', 'content': output})
    counts['cases'] = len(cases)
    return cases, counts


@dataclass
class AgentFlanSuite:
    source: str
    parse_mode: protocol.ParseMode = 'tolerant'
    max_new_tokens: int = MAX_NEW_TOKENS
    kind: str = 'agentflan'
    _cases: list[dict] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.source).expanduser()
        self._cases, self.counts = load_cases(self.path)
        if not self._cases:
            raise AgentlabError(f'{self.path} has no next-action cases (no trained turn that is a tool call or a '
                                'Final Answer)')

    @property
    def name(self) -> str:
        return f'agentflan:{self.source}'

    primary_metric = 'next_action_accuracy'

    def generation(self) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens)

    def settings(self) -> dict:
        return {'max_new_tokens': self.max_new_tokens, 'max_steps': 1, 'parse_mode': self.parse_mode,
                'temperature': 0.0, 'stop': list(protocol.STOP_WORDS)}

    def data_info(self) -> dict:
        return {'file': str(self.path), 'file_sha256': hashlib.sha256(self.path.read_bytes()).hexdigest(),
                **self.counts}

    def cases(self) -> list[dict]:
        return self._cases

    def prompt_size(self, case: dict) -> int:
        return sum(len(m['content']) for m in case['messages'])

    def episode(self, case: dict):
        episode = ReactEpisode([dict(m) for m in case['messages']], None, 1, self.parse_mode, stop=lambda s: True)
        step, = yield from episode.turns()
        ref = protocol.parse(case['reference'], 'strict')
        offered = case.get('offered')
        if ref.kind == 'call':
            name_ok = step.kind == 'call' and step.tool == ref.name
            args_ok = name_ok and canonical(step.arguments) == canonical(ref.arguments)
            correct, tool_name = args_ok, name_ok
        else:
            correct, tool_name, args_ok = step.kind == 'finish', None, None
        called = step.tool if step.kind in ('call', 'args_error') else None
        verdict = {'correct': correct, 'next_action': correct, 'tool_name': tool_name, 'arguments': args_ok,
                   'reference_kind': ref.kind, 'reference_call': {'name': ref.name, 'arguments': ref.arguments}
                   if ref.kind == 'call' else None,
                   'hallucinated_tool': bool(called and offered is not None and called not in offered),
                   'strict_parse': step.strict, 'tolerant_parse': step.tolerant}
        record = {'id': case['id'], 'raw_output': transcript([step]), 'outputs': [step.raw_output],
                  'parsed_calls': [{'name': step.tool, 'arguments': step.arguments}] if step.kind == 'call' else [],
                  'verdict': verdict, 'steps_detail': [step.to_case()]}
        record.update(usage([step]))
        return record

    def metrics(self, records: list[dict]) -> dict:
        v = [r['verdict'] for r in records]
        return {'next_action_accuracy': rate_of(x['next_action'] for x in v),
                'tool_name_accuracy': rate_of(x['tool_name'] for x in v),
                'argument_accuracy': rate_of(x['arguments'] for x in v),
                'finish_accuracy': rate_of(x['next_action'] for x in v if x['reference_kind'] == 'finish'),
                'hallucinated_tool': rate_of((x['hallucinated_tool'] for x in v), higher_is_better=False),
                'strict_parse': rate_of(x['strict_parse'] for x in v),
                'tolerant_parse': rate_of(x['tolerant_parse'] for x in v)}
