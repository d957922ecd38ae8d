"""stats.json of `agentlab synth`: what the generated rows contain (splits, kinds, tools, argument types, lengths)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from agentlab.datasets_conv.synth.generator import (CHARS_PER_TOKEN, SPLITS, TURN_OVERHEAD, Sample, Synthesizer,
                                                    _schema_type, conversation_tokens)


def compute_stats(engine: Synthesizer, samples: dict[str, list[Sample]], counters: dict, rows: int, seed: int,
                  tools: str) -> dict:
    arg_types: Counter = Counter()
    calls_per_fn: Counter = Counter()
    domains: dict[str, Counter] = defaultdict(Counter)
    offered_sizes: Counter = Counter()
    steps: Counter = Counter()
    langs: Counter = Counter()
    kinds: dict[str, Counter] = defaultdict(Counter)
    masked: Counter = Counter()
    observations: Counter = Counter()
    lengths: dict[str, list[int]] = defaultdict(list)
    for split, items in samples.items():
        for s in items:
            kinds[split][s.kind] += 1
            masked[split] += s.masked
            langs[s.lang] += 1
            offered_sizes[len(s.offered)] += 1
            taught = [c for c in s.calls]
            steps[len(taught)] += 1
            lengths[split].append((sum(len(t['content']) for t in s.turns), conversation_tokens(s.turns)))
            for c in taught:
                calls_per_fn[c.function.name] += 1
                domains[c.function.domain]['calls'] += 1
                observations[c.origin] += 1
                for pname, value in c.draw.arguments.items():
                    p = c.function.params.get(pname, {})
                    arg_types['enum' if 'enum' in p else _schema_type(p)] += 1
                    _nested_types(value, arg_types)
    for fn in engine.functions:
        domains[fn.domain]['functions'] += 1
    all_lengths = [n for v in lengths.values() for n in v]

    def length_stats(items: list[tuple[int, int]]) -> dict:
        if not items:
            return {}
        chars = sorted(c for c, _ in items)
        toks = sorted(t for _, t in items)
        return {'mean_chars': round(sum(chars) / len(chars), 1), 'max_chars': chars[-1],
                'mean_tokens_est': round(sum(toks) / len(toks), 1), 'p90_tokens_est': toks[int(0.9 * (len(toks) - 1))],
                'max_tokens_est': toks[-1],
                'share_under_900_tokens_est': round(sum(t < 900 for t in toks) / len(toks), 3)}

    used = [f for f in engine.functions if calls_per_fn[f.name]]
    return {
        'rows': sum(len(v) for v in samples.values()), 'rows_requested': rows, 'seed': seed, 'tools': tools,
        'lang': engine.lang,
        'splits': {s: len(samples.get(s, [])) for s in SPLITS},
        'kinds': {s: dict(sorted(kinds[s].items())) for s in SPLITS},
        'masked_names': {s: masked[s] for s in SPLITS},
        'languages': dict(sorted(langs.items())),
        **counters, 'unusable_draws': engine.unusable,
        'functions': {'available': len(engine.functions), 'called': len(used),
                      'calls': dict(sorted(calls_per_fn.items()))},
        'domains': {d: {'functions': c['functions'], 'calls': c['calls']} for d, c in sorted(domains.items())},
        'argument_types': dict(sorted(arg_types.items())),
        'observations': dict(sorted(observations.items())),
        'offered_tools': {str(k): v for k, v in sorted(offered_sizes.items())},
        'calls_per_conversation': {str(k): v for k, v in sorted(steps.items())},
        'length': {'all': length_stats(all_lengths), **{s: length_stats(lengths[s]) for s in SPLITS}},
        'token_estimate': f'non-digit characters / {CHARS_PER_TOKEN} + digits, plus {TURN_OVERHEAD} per turn',
    }


def _nested_types(value: Any, counter: Counter) -> None:
    """Count element types inside arrays and objects ('array[integer]', 'object.number')."""
    if isinstance(value, list):
        for v in value:
            counter['array[' + _json_type(v) + ']'] += 1
    elif isinstance(value, dict):
        for v in value.values():
            counter['object.' + _json_type(v)] += 1


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return 'boolean'
    if isinstance(v, int):
        return 'integer'
    if isinstance(v, float):
        return 'number'
    if isinstance(v, list):
        return 'array'
    if isinstance(v, dict):
        return 'object'
    return 'string'
