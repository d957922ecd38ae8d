"""How the serve bridge gets the model to honour ``tool_choice``: decoding in phases over the protocol's markers.

The ReAct protocol puts the decision in plain text: after ``Thought: ...`` the model writes either ``Action:`` (a
call) or ``Final Answer:`` (none). So each choice is a way of continuing a partly written turn:

* ``auto``, free: one ordinary generation, exactly what ``agentlab eval`` runs (the answer equals the evaluated one).
* ``auto``, constrained (the default): generate until the model either finishes or writes ``Action:``; then the tool
  name can only be one of the offered tools (a choice grammar) and the arguments must match that tool's JSON Schema
  (a JSON grammar). The no-call branch stays open: the grammar switches on only once a call starts (llama.cpp's
  "lazy grammar" idea, done with the protocol's own marker as the trigger).
* ``required``: the thought, then ``Action:`` is written for the model; name and arguments constrained as above.
* a named function: the thought, then ``Action: NAME`` and ``Action Input:`` are written for it; arguments
  constrained.
* ``none``: if the model starts a call, ``Final Answer:`` is written for it instead and it goes on from there.

Grammars come from the engine (xgrammar for transformers, llama.cpp's GBNF for GGUF); any backend with
``continue_text`` (runtime/backends/base.Continuing) can do all of this.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from agentlab.errors import AgentlabError
from agentlab.runtime import protocol
from agentlab.runtime.backends.base import Constraint, Generation, GenerationConfig, Messages
from agentlab.serve.bridge import Choice, ToolSet

ACTION_START = '\n' + protocol.ACTION
FINISH_START = '\n' + protocol.FINISH
NAME_TOKENS = 64            # enough for any OpenAI name (64 characters) and the "Action Input:" after it
# Under required / a named function the call must fit: the thought gets at most this share of max_tokens (and at
# most FORCED_THOUGHT_TOKENS), the rest is the call's. Under auto the model's own budget is left as it is.
FORCED_THOUGHT_SHARE = 0.5
FORCED_THOUGHT_TOKENS = 64


@dataclass
class Decoded:
    text: str                   # the whole assistant turn in the protocol, as if the model had written it all
    prompt_tokens: int
    completion_tokens: int
    length_cut: bool


def decode(backend, messages: Messages, tools: ToolSet, choice: Choice, config: GenerationConfig,
           constrained: bool = True, generate: Callable[[Messages, GenerationConfig], Generation] | None = None
           ) -> Decoded:
    """One assistant turn for ``messages`` under ``choice``. ``generate`` runs a free generation (the server passes
    its batcher); forced and constrained phases go through ``backend.continue_text``."""
    generate = generate or (lambda m, c: backend.generate([m], c)[0])
    free_only = choice.mode == 'auto' and not constrained
    if free_only or choice.mode == 'none' and not tools:
        g = generate(messages, config)
        return Decoded(g.text, g.prompt_tokens, g.completion_tokens, g.finish_reason == 'length')
    if not hasattr(backend, 'continue_text'):
        raise AgentlabError(f'the {getattr(backend, "name", "model")} engine cannot continue a written turn, so it '
                            'cannot honour tool_choice or constrain calls; serve it with --free-decoding and '
                            'tool_choice "auto"')
    stops = tuple(config.stop) + ((ACTION_START,) if choice.mode in ('auto', 'none') else (ACTION_START, FINISH_START))
    first_config = replace(config, stop=stops)
    if choice.mode in ('required', 'named'):
        first_config = replace(first_config, max_new_tokens=max(1, min(FORCED_THOUGHT_TOKENS, int(
            config.max_new_tokens * FORCED_THOUGHT_SHARE))))
    first = generate(messages, first_config)
    used = first.completion_tokens
    text = first.text
    # Cut at a stop word without a final answer: the model began "Action:" (or wrote "Response:" after a call of
    # its own making, which only a call can precede).
    started_call = first.finish_reason == 'stop_word' and protocol.FINISH not in text
    if choice.mode == 'auto' and not started_call:
        return Decoded(text, first.prompt_tokens, used, first.finish_reason == 'length')
    if choice.mode == 'none':
        if not started_call:
            return Decoded(text, first.prompt_tokens, used, first.finish_reason == 'length')
        prefix = text + FINISH_START + ' '
        rest = backend.continue_text(messages, prefix, _budget(config, used))
        return Decoded(prefix + rest.text, first.prompt_tokens, used + rest.completion_tokens,
                       rest.finish_reason == 'length')
    # a call: auto once the model wrote "Action:", or forced by required / a named function
    thought = text.strip().split('\n')[0].rstrip()      # the thought line (a forced call cuts what follows)
    if not thought.startswith(protocol.THOUGHT):
        thought = f'{protocol.THOUGHT} {thought}'.rstrip()
    if FINISH_START.strip() in thought:                      # "required": the model meant to answer; cut that off
        thought = thought.split(protocol.FINISH)[0].rstrip()
    prefix = thought + ACTION_START
    if choice.mode == 'named':
        tool = tools.by_name[choice.name]
        prefix += f' {tool.internal}\n{protocol.ACTION_INPUT} '
    else:
        options = tuple(f' {t.internal}\n{protocol.ACTION_INPUT} ' for t in tools.tools)
        name = backend.continue_text(messages, prefix, replace(config, max_new_tokens=NAME_TOKENS, stop=()),
                                     Constraint('choice', options))
        used += name.completion_tokens
        picked = next((o for o in options if o == name.text or o.rstrip() == name.text.rstrip()), None)
        if picked is None:
            raise AgentlabError(f'constrained decoding wrote {name.text!r}, not one of the offered tools')
        prefix += picked
        tool = tools.by_internal[picked.split('\n')[0].strip()]
    args = backend.continue_text(messages, prefix, _budget(config, used),
                                 Constraint('json', schema=tool.parameters))
    used += args.completion_tokens
    return Decoded(prefix + args.text, first.prompt_tokens, used, args.finish_reason == 'length')


def _budget(config: GenerationConfig, used: int) -> GenerationConfig:
    return replace(config, max_new_tokens=max(1, config.max_new_tokens - used))
