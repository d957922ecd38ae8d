"""The conversation generator of `agentlab synth`: one :class:`Synthesizer` per run builds ReAct trajectories,
format-following (tflan) decompositions and negatives from a list of :class:`~agentlab.datasets_conv.synth.functions.
Function`, every turn rendered by the protocol module. What each split teaches is in the package docstring."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

from agentlab.datasets_conv.synth import phrases as P
from agentlab.datasets_conv.synth import values as V
from agentlab.datasets_conv.synth.catalog import general_bank
from agentlab.datasets_conv.synth.functions import Draw, Function, Unusable
from agentlab.datasets_conv.synth.schemas import bfcl_dialect
from agentlab.errors import AgentlabError
from agentlab.runtime import protocol

SPLITS = ('react', 'tflan', 'negative')
MIX = {'react': 0.5, 'tflan': 0.2, 'negative': 0.3}
# Of the negative split, the share built as twins of one-call react rows (Synthesizer.twin); the rest come from
# Synthesizer.negative (no tool needed, a tool that is not offered, a missing value).
TWIN_SHARE = 0.35
# How many tools a conversation offers: mostly few (BFCL-like simple and multiple cases), sometimes up to 8.
OFFER_WEIGHTS = {1: 32, 2: 20, 3: 17, 4: 12, 5: 7, 6: 5, 7: 4, 8: 3}
SAME_DOMAIN = 0.6            # distractors from the target's own domain: the model must read, not guess by topic
# A conversation's length cap, in estimated tokens. The embedded model trains at max_length ~1024; its tokenizer
# (measured on this data) reads ~3.7 characters of prose or Python-repr tool lists per token but about one token per
# digit, so the estimate counts digits apart. It never reads the real tokenizer: the same seed must give the same
# bytes on a machine without the model.
MAX_TOKENS = 960
# Six to eight tool descriptions alone take ~900 tokens (a description with Lagent's boilerplate is ~100-240), so
# rows offering that many may run longer; they are a small share (OFFER_WEIGHTS), and XTuner's packing splits them.
LARGE_SET = 6
LARGE_SET_MAX_TOKENS = 1400
TURN_OVERHEAD = 5               # chat-template tokens around each turn
CHARS_PER_TOKEN = 3.7
LANGS = ('en', 'zh', 'both')


@dataclass
class Call:
    function: Function
    draw: Draw
    observation: str
    result: Any
    origin: str          # 'tool' (the real tool ran), 'formula' (computed), 'shape' (plausible, from the result shape)


@dataclass
class Sample:
    split: str
    kind: str
    lang: str
    turns: list[dict]
    calls: list[Call] = field(default_factory=list)
    offered: list[Function] = field(default_factory=list)
    asked: Function | None = None       # the tool an "unavailable" request needs (not offered)
    masked: bool = False                # tools and parameters renamed at random (synth.masking)

    def to_row(self, row_id: str) -> dict:
        return {'id': row_id, 'conversation': self.turns}


class Retry(Exception):
    """This draw cannot make a good conversation (too long, tool error): draw another."""


def _turn(role: str, content: str, loss: bool) -> dict:
    return {'role': role, 'content': content, 'loss': loss}


def estimate_tokens(text: str) -> int:
    """Tokens the embedded model's tokenizer needs for ``text``, estimated (see MAX_TOKENS)."""
    digits = sum(ch.isdigit() for ch in text)
    return int((len(text) - digits) / CHARS_PER_TOKEN + digits) + 1


def conversation_tokens(turns: Sequence[dict]) -> int:
    return sum(estimate_tokens(t['content']) + TURN_OVERHEAD for t in turns)


class Synthesizer:
    """Builds conversations from a list of functions. One instance per run; rng passed explicitly."""

    def __init__(self, functions: Sequence[Function], lang: str = 'en'):
        if lang not in LANGS:
            raise AgentlabError(f'--lang must be one of {", ".join(LANGS)}, got {lang!r}')
        self.functions = list(functions)
        self.lang = lang
        self.by_domain: dict[str, list[Function]] = defaultdict(list)
        for fn in self.functions:
            self.by_domain[fn.domain].append(fn)
        self.targets = {lg: [f for f in self.functions if lg in f.languages()] for lg in ('en', 'zh')}
        wanted = ('en', 'zh') if lang == 'both' else (lang,)
        for lg in wanted:
            if not self.targets[lg]:
                raise AgentlabError(f'no tool has {lg} request phrasings')
        self.general = general_bank()
        self.by_name = {f.name: f for f in self.functions}
        self.unusable = 0
        self._costs: dict[tuple[str, bool], int] = {}
        self.base_tokens = {lg: estimate_tokens(protocol.render_system([], lg)) + TURN_OVERHEAD for lg in ('en', 'zh')}

    # --- shared pieces ---

    def pick_lang(self, rng: random.Random) -> str:
        return rng.choice(('en', 'zh')) if self.lang == 'both' else self.lang

    def draw(self, fn: Function, rng: random.Random, lang: str) -> Draw:
        for _ in range(10):
            d = fn.draw(rng, lang)
            if fn.validate(d.arguments) is None:
                return d
            self.unusable += 1
        raise Retry(f'{fn.name}: drawn arguments do not fit its schema')

    def run_call(self, d: Draw, rng: random.Random) -> Call:
        fn = d.function
        try:
            if fn.call is not None:
                text = fn.call(d.arguments)
                try:
                    result = json.loads(text)
                except json.JSONDecodeError:
                    result = {'output': text}
                return Call(fn, d, text, result, 'tool')
            result = fn.fake_result(d, rng)
        except Unusable:
            self.unusable += 1
            raise Retry(f'{fn.name} cannot serve this draw') from None
        return Call(fn, d, protocol.observation_text(result), result, 'formula' if fn.compute else 'shape')

    def excluded(self, fns: Sequence[Function]) -> set[str]:
        """Names that must not be offered as distractors: the targets and anything declared to overlap them."""
        out = {f.name for f in fns}
        for f in fns:
            out.update(f.overlaps)
        for other in self.functions:
            if out.intersection(other.overlaps):
                out.add(other.name)
        return out

    def offer(self, rng: random.Random, targets: Sequence[Function], lang: str, budget: int,
              size: int | None = None, exclude: set[str] | None = None) -> tuple[list[Function], str]:
        """The offered tools (targets among distractors) and their system prompt, within ``budget`` tokens.

        Distractors come from the targets' domain first (a near miss teaches reading the descriptions), and each one
        must fit the remaining budget: large offered sets end up made of short tools rather than being cut."""
        exclude = (exclude or set()) | self.excluded(targets)
        if size is None:
            size = rng.choices(list(OFFER_WEIGHTS), weights=list(OFFER_WEIGHTS.values()))[0]
        size = max(size, len(targets))
        if size >= LARGE_SET:
            budget += LARGE_SET_MAX_TOKENS - MAX_TOKENS
        dialect = rng.random() < 0.5
        home = targets[0].domain if targets else rng.choice(sorted(self.by_domain))
        same = [f for f in self.by_domain[home] if f.name not in exclude]
        others = [f for f in self.functions if f.name not in exclude and f.domain != home]
        left = budget - self.base_tokens[lang] - sum(self.cost(f, dialect) for f in targets)
        if left < 0:
            raise Retry('the targets alone are over budget')
        distractors: list[Function] = []
        for _ in range(size - len(targets)):
            pool = same if same and (rng.random() < SAME_DOMAIN or not others) else others
            for _attempt in range(6):
                if not pool:
                    break
                pick = pool.pop(rng.randrange(len(pool)))
                if self.cost(pick, dialect) <= left:
                    distractors.append(pick)
                    left -= self.cost(pick, dialect)
                    break
        offered = list(distractors)
        for t in targets:
            offered.insert(rng.randint(0, len(offered)), t)
        while True:     # the per-tool costs are estimates: check the rendered prompt, drop a distractor if over
            specs = [bfcl_dialect(f.display) if dialect and f.source != 'builtin' else f.display for f in offered]
            system = protocol.render_system(specs, lang)
            if estimate_tokens(system) + TURN_OVERHEAD <= budget:
                return offered, system
            removable = [i for i, f in enumerate(offered) if f not in targets]
            if not removable:
                raise Retry('system prompt over budget')
            offered.pop(rng.choice(removable))

    def cost(self, fn: Function, dialect: bool) -> int:
        """Estimated tokens a tool adds to the system prompt (its description, its name in the name list)."""
        key = (fn.name, dialect)
        if key not in self._costs:
            spec = bfcl_dialect(fn.display) if dialect and fn.source != 'builtin' else fn.display
            self._costs[key] = estimate_tokens(repr(protocol.tool_description(spec)) + repr(fn.name)) + 2
        return self._costs[key]

    def answer_for(self, call: Call, rng: random.Random, lang: str) -> str:
        """The final-answer sentence for one call's result."""
        fn, result = call.function, call.result
        env: dict[str, V.Val] = {}
        for k, p in fn.params.items():        # an answer may name an unset optional parameter: it has its default
            if 'default' in p:
                env[k] = V.Val(_text(p['default'], lang), 'str')
        for k, v in call.draw.arguments.items():
            env[k] = V.Val(_text(v, lang), 'str')
        if isinstance(result, dict):
            for k, v in result.items():
                env[k] = V.Val(_text(v, lang), 'str')
        usable = [t for t in fn.answers.get(lang, []) if t.names() <= set(env)]
        if usable:
            return rng.choice(usable).render(env, None, rng, lang)
        return _generic_answer(result, rng, lang)

    def thought(self, bank: dict, fn: Function | None, rng: random.Random, lang: str, **extra: str) -> str:
        purpose = (fn.purpose.get(lang) or fn.purpose['en']) if fn else ''
        options = [t for t in bank[lang] if '{purpose}' not in t or lang == 'en' or fn and 'zh' in fn.purpose]
        return rng.choice(options).format(name=fn.name if fn else '', purpose=purpose, **extra)

    # --- react ---

    def react(self, rng: random.Random) -> Sample:
        lang = self.pick_lang(rng)
        r = rng.random()
        if r < 0.08 and self._chain_ok():
            return self.chain(rng, lang)
        first = rng.choice(self.targets[lang])
        if r < 0.28:
            if rng.random() < 0.35:
                second = first
            else:
                pool = [f for f in self.by_domain[first.domain] if f is not first and lang in f.languages()]
                second = rng.choice(pool) if pool and rng.random() < 0.5 else rng.choice(self.targets[lang])
            return self.trajectory(rng, lang, [first, second], 'multi')
        return self.trajectory(rng, lang, [first], 'single')

    def trajectory(self, rng: random.Random, lang: str, fns: Sequence[Function], kind: str,
                   split: str = 'react') -> Sample:
        draws = [self.draw(f, rng, lang) for f in fns]
        if len(draws) > 1 and len({json.dumps(d.arguments, sort_keys=True) + d.function.name for d in draws}) < 2:
            raise Retry('the same call twice')
        calls = [self.run_call(d, rng) for d in draws]
        request = draws[0].text
        for d in draws[1:]:
            request = rng.choice(P.JOIN_REQUESTS[lang]).format(a=request, b=d.text)
        turns = [_turn('user', request, False)]
        targets: list[Function] = []
        for i, c in enumerate(calls):
            bank = P.CALL if i == 0 else P.CALL_NEXT
            turns.append(_turn('assistant', protocol.render_action(self.thought(bank, c.function, rng, lang),
                                                                   c.function.name, c.draw.arguments), True))
            turns.append(_turn('user', protocol.render_response(c.observation), False))
            if c.function not in targets:
                targets.append(c.function)
        answer = self.answer_for(calls[0], rng, lang)
        for c in calls[1:]:
            answer = rng.choice(P.JOIN_ANSWERS[lang]).format(a=answer, b=self.answer_for(c, rng, lang))
        finish_bank = P.FINISH if len(calls) == 1 else P.FINISH_MULTI
        turns.append(_turn('assistant', protocol.render_finish(rng.choice(finish_bank[lang]), answer), True))
        return self._with_system(rng, split, kind, lang, turns, targets, calls)

    def _with_system(self, rng: random.Random, split: str, kind: str, lang: str, turns: list[dict],
                     targets: Sequence[Function], calls: list[Call], size: int | None = None,
                     exclude: set[str] | None = None) -> Sample:
        offered, system = self.offer(rng, targets, lang, MAX_TOKENS - conversation_tokens(turns), size=size,
                                     exclude=exclude)
        return Sample(split, kind, lang, [_turn('system', system, False)] + turns, calls, offered)

    # Chains: the second call needs the first call's result (built-in date and arithmetic tools).
    def _chain_ok(self) -> bool:
        return all(n in self.by_name for n in ('DateCalculator.days_between', 'Calculator', 'UnitConverter'))

    def chain(self, rng: random.Random, lang: str) -> Sample:
        days_fn, calc, units = (self.by_name[n] for n in ('DateCalculator.days_between', 'Calculator',
                                                          'UnitConverter'))
        if rng.random() < 0.5:
            d = self.draw(days_fn, rng, lang)
            first = self.run_call(d, rng)
            days = first.result['days']
            text = {'en': rng.choice(('How many weeks are there between {s} and {e}?',
                                      'Between {s} and {e}, how many weeks pass?')),
                    'zh': '从{s}到{e}一共有多少周？'}[lang]
            s, e = d.values['start'], d.values['end']
            request = text.format(s=V.say(s, rng, lang), e=V.say(e, rng, lang))
            second_fn, args = calc, {'expression': f'{days}/7'}
        else:
            laps, dist = rng.randint(2, 12), round(rng.uniform(0.4, 5.0), 1)
            first_args = {'expression': f'{laps}*{dist}'}
            first = self.run_call(Draw(calc, '', first_args, {}), rng)
            total = first.result['result']
            text = {'en': rng.choice(('I ran {n} laps of {d} km each. How many miles is that in total?',
                                      'A route is {d} km long and I cycled it {n} times. What is the total '
                                      'in miles?')),
                    'zh': '我跑了 {n} 圈，每圈 {d} 公里，总共是多少英里？'}[lang]
            request = text.format(n=laps, d=dist)
            second_fn, args = units, {'value': total, 'from_unit': 'km', 'to_unit': 'mi'}
        second = self.run_call(Draw(second_fn, '', args, {}), rng)
        turns = [_turn('user', request, False),
                 _turn('assistant', protocol.render_action(self.thought(P.CALL, first.function, rng, lang),
                                                           first.function.name, first.draw.arguments), True),
                 _turn('user', protocol.render_response(first.observation), False),
                 _turn('assistant', protocol.render_action(self.thought(P.CALL_CHAIN, second_fn, rng, lang),
                                                           second_fn.name, args), True),
                 _turn('user', protocol.render_response(second.observation), False)]
        value = second.result.get('result', second.result.get('value'))
        answer = {'en': 'That is {v} in total.', 'zh': '总共是 {v}。'}[lang]
        if second_fn is calc:
            answer = {'en': 'That is about {v} weeks.', 'zh': '大约是 {v} 周。'}[lang]
        else:
            answer = {'en': 'That is about {v} miles in total.', 'zh': '总共约 {v} 英里。'}[lang]
        turns.append(_turn('assistant', protocol.render_finish(rng.choice(P.FINISH[lang]),
                                                               answer.format(v=V.number_text(value))), True))
        return self._with_system(rng, 'react', 'chain', lang, turns, [first.function, second_fn], [first, second])

    # --- negative ---

    def negative(self, rng: random.Random) -> Sample:
        lang = self.pick_lang(rng)
        r = rng.random()
        if r < 0.45:
            return self.no_tool(rng, lang)
        if r < 0.75:
            return self.unavailable(rng, lang)
        return self.missing(rng, lang)

    def _general_item(self, rng: random.Random, lang: str) -> tuple[str, str, bool]:
        bank = self.general[lang]
        if rng.random() < 0.2:
            item = rng.choice(bank['chat'])
            return rng.choice(item['q']), rng.choice(_as_list(item['a'])), True
        item = rng.choice(bank['knowledge'])
        q = rng.choice(item['q'])
        if rng.random() < 0.3:
            q = rng.choice(bank['prefixes']).format(q=q[0].lower() + q[1:] if lang == 'en' else q)
        return q, rng.choice(_as_list(item['a'])), False

    def no_tool(self, rng: random.Random, lang: str, split: str = 'negative') -> Sample:
        question, answer, chat = self._general_item(rng, lang)
        thought = rng.choice((P.CHAT_THOUGHT if chat else P.NO_TOOL_THOUGHT)[lang])
        turns = [_turn('user', question, False), _turn('assistant', protocol.render_finish(thought, answer), True)]
        size = rng.choices((1, 2, 3, 4, 5), weights=(35, 25, 20, 12, 8))[0]
        return self._with_system(rng, split, 'no_tool', lang, turns, [], [], size=size)

    def unavailable(self, rng: random.Random, lang: str, split: str = 'negative') -> Sample:
        target = rng.choice(self.targets[lang])
        d = self.draw(target, rng, lang)
        thought = self.thought(P.UNAVAILABLE_THOUGHT, target, rng, lang)
        answer = self.thought(P.UNAVAILABLE_ANSWER, target, rng, lang)
        turns = [_turn('user', d.text, False), _turn('assistant', protocol.render_finish(thought, answer), True)]
        # BFCL-irrelevance-like: usually one or two tools, often from the same domain (a near miss).
        size = rng.choices((1, 2, 3, 4), weights=(45, 25, 18, 12))[0]
        # A calculator or a Python interpreter could serve most requests after all: never the "unavailable" tool.
        exclude = self.excluded([target]) | {f.name for f in self.functions if f.general}
        same = [f for f in self.by_domain[target.domain] if f.name not in exclude]
        seeds = [rng.choice(same)] if same and rng.random() < SAME_DOMAIN else []
        offered, system = self.offer(rng, seeds, lang, MAX_TOKENS - conversation_tokens(turns), size=size,
                                     exclude=exclude)
        return Sample(split, 'unavailable', lang, [_turn('system', system, False)] + turns, [], offered, target)

    def twin(self, positive: Sample, rng: random.Random) -> Sample:
        """Hammer's negative twin of a one-call positive: the same request with its tool taken away and the
        distractors kept (a one-tool row gets a tool of the same domain instead, as BFCL irrelevance offers), answered
        without a call. Seen beside its positive, the request alone cannot decide: the offered list has to."""
        target, lang = positive.calls[0].function, positive.lang
        # A calculator or a Python interpreter could serve most requests after all: never kept in a twin.
        exclude = self.excluded([target]) | {f.name for f in self.functions if f.general}
        kept = [f for f in positive.offered if f.name not in exclude]
        if not kept:
            same = [f for f in self.by_domain[target.domain] if f.name not in exclude]
            if not same:
                raise Retry(f'{target.name}: no tool of its domain to offer in its twin')
            kept = [rng.choice(same)]
        thought = self.thought(P.UNAVAILABLE_THOUGHT, target, rng, lang)
        answer = self.thought(P.UNAVAILABLE_ANSWER, target, rng, lang)
        turns = [_turn('user', positive.turns[1]['content'], False),
                 _turn('assistant', protocol.render_finish(thought, answer), True)]
        offered, system = self.offer(rng, kept, lang, MAX_TOKENS - conversation_tokens(turns), size=len(kept),
                                     exclude=exclude)
        return Sample('negative', 'twin', lang, [_turn('system', system, False)] + turns, [], offered, target)

    def missing(self, rng: random.Random, lang: str) -> Sample:
        candidates = [f for f in self.targets[lang] if f.required and f.authored and lang in f.purpose]
        if not candidates:
            return self.unavailable(rng, lang)
        fn = rng.choice(candidates)
        purpose = fn.purpose[lang]
        request = rng.choice(P.VAGUE_REQUEST[lang]).format(purpose=purpose, Purpose=purpose[:1].upper() + purpose[1:])
        labels = [r.replace('_', ' ') for r in fn.required][:3]
        missing = V.join_words(labels, lang)
        thought = rng.choice(P.ASK_THOUGHT[lang]).format(name=fn.name, missing=missing)
        ask = rng.choice(P.ASK_ANSWER[lang]).format(missing=missing)
        turns = [_turn('user', request, False), _turn('assistant', protocol.render_finish(thought, ask), True)]
        calls: list[Call] = []
        if rng.random() < 0.5:
            # The user answers; the assistant then calls the tool with exactly the values given.
            gens = fn.values
            vals = {r: gens[r](rng) for r in fn.required}
            args = {p: vals[p].value for p in fn.params if p in vals}
            if fn.validate(args) is not None:
                raise Retry('inferred values do not fit')
            d = Draw(fn, '', args, vals)
            call = self.run_call(d, rng)
            sep = '，' if lang == 'zh' else ', '
            stated = sep.join(f'{r.replace("_", " ")} {V.say(vals[r], rng, lang)}' for r in fn.required)
            if len(fn.required) == 1 and rng.random() < 0.6:
                stated = V.say(vals[fn.required[0]], rng, lang)
            turns += [_turn('user', rng.choice(P.GIVE_VALUES[lang]).format(values=stated), False),
                      _turn('assistant', protocol.render_action(self.thought(P.CALL, fn, rng, lang), fn.name,
                                                                args), True),
                      _turn('user', protocol.render_response(call.observation), False),
                      _turn('assistant', protocol.render_finish(rng.choice(P.FINISH[lang]),
                                                                self.answer_for(call, rng, lang)), True)]
            calls.append(call)
        return self._with_system(rng, 'negative', 'ask_missing', lang, turns, [fn], calls)

    # --- tflan ---

    def tflan(self, rng: random.Random) -> Sample:
        lang = self.pick_lang(rng)
        r = rng.random()
        if r < 0.55:
            return self.decompose_call(rng, lang)
        if r < 0.8:
            return self.continuation(rng, lang)
        return self.decompose_negative(rng, lang)

    def decompose_call(self, rng: random.Random, lang: str) -> Sample:
        fn = rng.choice(self.targets[lang])
        d = self.draw(fn, rng, lang)
        call = self.run_call(d, rng)
        args = d.arguments
        qa: list[tuple[str, str]] = []
        if rng.random() < 0.3:
            qa.append((rng.choice(P.TF_NEED_TOOL[lang]), rng.choice(P.TF_YES[lang]).format(name=fn.name)))
        else:
            qa.append((rng.choice(P.TF_WHICH_TOOL[lang]), fn.name))
        if args and rng.random() < 0.7:
            qa.append((rng.choice(P.TF_WHICH_PARAMS[lang]).format(name=fn.name), ', '.join(args)))
        if args and rng.random() < 0.45:
            param = rng.choice(list(args))
            kind = _schema_type(fn.params.get(param, {}))
            qa.append((rng.choice(P.TF_PARAM_TYPE[lang]).format(name=fn.name, param=param),
                       P.TYPE_ANSWER[lang].get(kind, kind)))
        if args and rng.random() < 0.45:
            param = rng.choice(list(args))
            qa.append((rng.choice(P.TF_PARAM_VALUE[lang]).format(param=param),
                       json.dumps(args[param], ensure_ascii=False)))
        if rng.random() < 0.6:
            qa.append((rng.choice(P.TF_ARGS[lang]).format(name=fn.name), protocol.render_arguments(args)))
        qa.append((rng.choice(P.TF_FULL[lang]),
                   protocol.render_action(self.thought(P.CALL, fn, rng, lang), fn.name, args)))
        turns = _qa_turns(d.text, qa)
        if rng.random() < 0.4:
            turns += [_turn('user', protocol.render_response(call.observation), False),
                      _turn('assistant', protocol.render_finish(rng.choice(P.FINISH[lang]),
                                                                self.answer_for(call, rng, lang)), True)]
        return self._with_system(rng, 'tflan', 'decompose_call', lang, turns, [fn], [call])

    def continuation(self, rng: random.Random, lang: str) -> Sample:
        """A trajectory whose earlier assistant steps are given (context, no loss): only the last is taught."""
        sample = self.react(rng)
        sample.split, sample.kind = 'tflan', 'continue_' + sample.kind
        assistant = [i for i, t in enumerate(sample.turns) if t['role'] == 'assistant']
        for i in assistant[:-1]:
            sample.turns[i]['loss'] = False
        return sample

    def decompose_negative(self, rng: random.Random, lang: str) -> Sample:
        base = self.unavailable(rng, lang, split='tflan') if rng.random() < 0.6 else self.no_tool(rng, lang,
                                                                                                    'tflan')
        system, user, final = base.turns
        qa = [(rng.choice(P.TF_NEED_TOOL[lang]), rng.choice(P.TF_NO[lang])),
              (rng.choice(P.TF_FINISH_FULL[lang]), final['content'])]
        turns = [system] + _qa_turns(user['content'], qa)
        if conversation_tokens(turns) > MAX_TOKENS:
            raise Retry('too long')
        return Sample('tflan', 'decompose_' + base.kind, lang, turns, [], base.offered, base.asked)


def _qa_turns(request: str, qa: list[tuple[str, str]]) -> list[dict]:
    turns = []
    for i, (q, a) in enumerate(qa):
        turns.append(_turn('user', f'{request}\n\n{q}' if i == 0 else q, False))
        turns.append(_turn('assistant', a, True))
    return turns


def _schema_type(p: dict) -> str:
    kind = p.get('type', 'string')
    if isinstance(kind, list):
        kind = 'number' if 'number' in kind else kind[0]
    return kind


def _as_list(x: Any) -> list:
    return [x] if isinstance(x, str) else list(x)


def _text(value: Any, lang: str) -> str:
    """A result value as an answer sentence states it."""
    if isinstance(value, bool):
        return ('是' if value else '否') if lang == 'zh' else ('yes' if value else 'no')
    if isinstance(value, (int, float)):
        return V.number_text(value)
    if isinstance(value, list):
        if any(isinstance(v, list) for v in value):
            return json.dumps(value, ensure_ascii=False)
        items = [_brief(v, lang) for v in value[:5]]
        return V.join_words(items, lang) if items else ('无' if lang == 'zh' else 'none')
    if isinstance(value, dict):
        return _brief(value, lang)
    return str(value)


def _brief(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        for key in ('name', 'title', 'text', 'id', 'city', 'date'):
            if key in value:
                return str(value[key])
        sep = '，' if lang == 'zh' else ', '
        return sep.join(f'{k.replace("_", " ")} {_text(v, lang)}' for k, v in list(value.items())[:3])
    return _text(value, lang)


def _generic_answer(result: Any, rng: random.Random, lang: str) -> str:
    if isinstance(result, dict) and set(result) == {'output'}:
        return rng.choice(P.PLAIN_OUTPUT[lang]).format(output=result['output'] or '(nothing)')
    if isinstance(result, dict) and len(result) == 1:
        key, value = next(iter(result.items()))
        label = key.replace('_', ' ')
        return rng.choice(P.RESULT_ONE[lang]).format(label=label, Label=label[:1].upper() + label[1:],
                                                      value=_text(value, lang))
    if isinstance(result, dict):
        sep = '；' if lang == 'zh' else '; '
        pairs = sep.join(f'{k.replace("_", " ")}: {_text(v, lang)}' for k, v in list(result.items())[:5])
        return rng.choice(P.RESULT_MANY[lang]).format(pairs=pairs)
    return rng.choice(P.PLAIN_OUTPUT[lang]).format(output=_text(result, lang))
