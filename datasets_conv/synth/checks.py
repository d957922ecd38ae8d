"""The checks every synthesised row passes before it is written."""

from __future__ import annotations

from agentlab.datasets_conv.synth.generator import Sample
from agentlab.runtime import protocol


def check_sample(sample: Sample) -> None:
    """Raise AssertionError when a row would teach something wrong: every ReAct turn must parse with the strict
    parser, every Action must name an offered tool, and its arguments must validate against that tool's schema."""
    turns = sample.turns
    assert turns[0]['role'] == 'system' and turns[-1]['role'] == 'assistant', 'system first, assistant last'
    for a, b in zip(turns[1:], turns[2:]):
        assert a['role'] != b['role'], 'user and assistant turns alternate'
    offered = {f.name: f for f in sample.offered}
    last = turns[-1]['content']
    for i, t in enumerate(turns):
        assert t['content'].strip(), 'empty turn'
        if t['role'] != 'assistant':
            continue
        if i == len(turns) - 1 or protocol.THOUGHT in t['content']:
            parsed = protocol.parse(t['content'], 'strict')
            assert parsed.ok, f'strict parse failed: {t["content"][:120]!r}'
            if parsed.kind == 'call':
                fn = offered.get(parsed.name)
                assert fn is not None, f'{parsed.name} is not offered'
                problem = fn.validate(parsed.arguments or {})
                assert problem is None, problem
    assert protocol.THOUGHT in last
