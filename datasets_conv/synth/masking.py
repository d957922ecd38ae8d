"""Name masking (Hammer's recipe): on a share of conversations, the offered tools and their parameters get random
names, consistently in the system prompt, the calls and the thoughts.

Why: a model trained on meaningful names learns to pick a tool by its name (or to write a name it has seen in
training, offered or not: the tuned model called `math.integral` on BFCL irrelevance cases that offered no such
tool). With meaningless names the only way to the right call is to read the descriptions and copy the name from the
list (Hammer, arXiv 2410.04587: names and parameter names masked with p=2/3).

The system prompt is edited structurally, not by text search: its tool list is the `str()` of a list of dicts
(`protocol.render_system`), so it is parsed back with `ast.literal_eval`, renamed and printed the same way. Nested
object properties keep their names (they are not in a call's top-level keys the checker compares by name).
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import replace

from agentlab.runtime import protocol

SHARE = 1 / 3
_SYLLABLES = ('ka', 'lo', 'mi', 'ru', 'te', 'vo', 'zan', 'pel', 'dor', 'qui', 'sa', 'nex', 'bri', 'tor', 'hu', 'gy')
_ACTION = re.compile(rf'^{re.escape(protocol.ACTION)} ?(.*)$', re.M)
_ACTION_INPUT = re.compile(rf'^{re.escape(protocol.ACTION_INPUT)} ?(.*)$', re.M)


def random_name(rng: random.Random, taken: set[str], param: bool = False) -> str:
    """A meaningless identifier in one of a few styles (snake_case words, code-like, dotted)."""
    for _ in range(100):
        style = rng.random()
        if style < 0.4:
            name = '_'.join(''.join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))
                            for _ in range(rng.randint(1, 2)))
        elif style < 0.75 or param:
            name = rng.choice(string.ascii_lowercase) + ''.join(rng.choice(string.ascii_lowercase + string.digits)
                                                                for _ in range(rng.randint(3, 7)))
        else:
            name = f'{"".join(rng.choice(_SYLLABLES) for _ in range(2))}.{rng.choice(string.ascii_lowercase)}' \
                   f'{"".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(4))}'
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError('no free random name')


def _sub_name(text: str, old: str, new: str) -> str:
    return re.sub(rf'(?<![\w.]){re.escape(old)}(?![\w])', new, text)


def mask_names(sample, rng: random.Random):
    """The sample with its offered tools (and their top-level parameters) renamed; unchanged when it has no tools."""
    turns = sample.turns
    if not turns or turns[0]['role'] != 'system':
        return sample
    system = turns[0]['content']
    found = protocol.find_tool_list(system)
    if found is None:
        return sample
    start, end, descs = found
    names_text = str([d['name'] for d in descs])
    if names_text not in system[end:]:
        return sample
    taken: set[str] = {d['name'] for d in descs} | {p['name'] for d in descs for p in d.get('parameters', [])}
    fn_map: dict[str, str] = {}
    param_maps: dict[str, dict[str, str]] = {}
    new_descs = []
    for d in descs:
        new = dict(d)
        fn_map[d['name']] = new['name'] = random_name(rng, taken)
        pmap = {}
        params = []
        for p in d.get('parameters', []):
            q = dict(p)
            pmap[p['name']] = q['name'] = random_name(rng, taken, param=True)
            params.append(q)
        new['parameters'] = params
        if 'required' in d:
            new['required'] = [pmap.get(r, r) for r in d['required']]
        param_maps[d['name']] = pmap
        new_descs.append(new)
    tail = system[end:].replace(names_text, str([d['name'] for d in new_descs]), 1)
    out = [dict(turns[0], content=system[:start] + str(new_descs) + tail)]
    # longest names first, so that a name that is a prefix of another is never replaced inside it
    order = sorted(fn_map, key=len, reverse=True)
    for turn in turns[1:]:
        text = turn['content']
        if turn['role'] == 'assistant':
            text = _rename_call(text, fn_map, param_maps)
            for old in order:
                text = _sub_name(text, old, fn_map[old])
        out.append(dict(turn, content=text))
    return replace(sample, turns=out, masked=True)


def _rename_call(text: str, fn_map: dict[str, str], param_maps: dict[str, dict[str, str]]) -> str:
    m = _ACTION.search(text)
    if m is None:
        return text
    name = m.group(1).strip()
    args_m = _ACTION_INPUT.search(text)
    if name not in fn_map or args_m is None:
        return text
    try:
        args = json.loads(args_m.group(1))
    except json.JSONDecodeError:
        return text
    if isinstance(args, dict):
        pmap = param_maps[name]
        args = {pmap.get(k, k): v for k, v in args.items()}
        text = text[:args_m.start(1)] + protocol.render_arguments(args) + text[args_m.end(1):]
    return text[:m.start(1)] + fn_map[name] + text[m.end(1):]
