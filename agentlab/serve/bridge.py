"""OpenAI function calling <-> agentlab's ReAct protocol, both ways, with nothing lost.

A chat-completions request with ``tools`` is rendered into the protocol the model was trained on (the protocol
module's system prompt for those tools, each assistant ``tool_calls`` entry as a ``Thought/Action/Action Input``
turn and each ``role: "tool"`` message as a ``Response:`` turn), byte for byte what ``agentlab eval`` renders for the
same tools and messages; the model's output is parsed by the same parser (tolerant mode, as the BFCL suites score)
and comes back as ``message.tool_calls`` or ``message.content``. A request without ``tools`` passes through: its
messages are rendered as given and the text comes back as it was written (agentlab's own ReAct runtime renders the
protocol itself and talks to endpoints this way).

Everything a client can get wrong is a :class:`RequestError` with the HTTP status and a one-line reason, raised
before any generation starts.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from agentlab.runtime import protocol

# OpenAI's rule for function names, plus dots (as vLLM accepts them): BFCL's functions and agentlab's toolkits are
# dotted (math.factorial, ArxivSearch.get_arxiv_article_information) and must reach the model as they are named.
# The protocol's parser reads names that start with a letter or an underscore.
OPENAI_NAME = re.compile(r'[a-zA-Z0-9_.-]{1,64}')
PROTOCOL_NAME = re.compile(r'[A-Za-z_][\w.\-]*')
DEFAULT_THOUGHT = 'I will call {name}.'         # for tool calls in a history whose thought the server never saw


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx) and a one-line ``message`` naming the field."""

    def __init__(self, message: str, status: int = 400, param: str | None = None,
                 code: str = 'invalid_request_error'):
        super().__init__(message)
        self.message, self.status, self.param, self.code = message, status, param, code


# --- tools ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tool:
    name: str                    # as the client named it
    internal: str                # as the model sees it (the same unless the protocol cannot read the name)
    description: str
    parameters: dict             # a JSON Schema object

    def spec(self) -> dict:
        """The OpenAI function schema under the model's name, what protocol.render_system takes."""
        return {'name': self.internal, 'description': self.description, 'parameters': self.parameters}


class ToolSet:
    """The request's tools with a reversible name map (OpenAI names the protocol cannot parse get a prefix)."""

    def __init__(self, tools: Sequence[Tool]):
        self.tools = list(tools)
        self.by_name = {t.name: t for t in self.tools}
        self.by_internal = {t.internal: t for t in self.tools}

    def __bool__(self) -> bool:
        return bool(self.tools)

    def specs(self) -> list[dict]:
        return [t.spec() for t in self.tools]

    @classmethod
    def from_request(cls, raw: Any) -> 'ToolSet':
        if raw is None:
            return cls([])
        if not isinstance(raw, list):
            raise RequestError('tools must be a list of {"type": "function", "function": {...}} objects', param='tools')
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
        tools: list[Tool] = []
        taken: set[str] = set()
        for i, entry in enumerate(raw):
            where = f'tools[{i}]'
            if not isinstance(entry, Mapping) or entry.get('type') != 'function':
                raise RequestError(f'{where}.type must be "function" (the only tool type this server runs)', param=where)
            fn = entry.get('function')
            if not isinstance(fn, Mapping):
                raise RequestError(f'{where}.function must be an object', param=where)
            name = fn.get('name')
            if not isinstance(name, str) or not OPENAI_NAME.fullmatch(name):
                raise RequestError(f'{where}.function.name must match ^[a-zA-Z0-9_.-]{{1,64}}$, got {name!r}',
                                   param=f'{where}.function.name')
            if any(t.name == name for t in tools):
                raise RequestError(f'{where}.function.name {name!r} is given twice', param=f'{where}.function.name')
            params = fn.get('parameters')
            if params is None:
                params = {'type': 'object', 'properties': {}}
            if not isinstance(params, Mapping) or params.get('type', 'object') != 'object':
                raise RequestError(f'{where}.function.parameters must be a JSON Schema of type "object"',
                                   param=f'{where}.function.parameters')
            try:
                Draft202012Validator.check_schema(params)
            except SchemaError as exc:
                raise RequestError(f'{where}.function.parameters is not a valid JSON Schema: {exc.message}',
                                   param=f'{where}.function.parameters') from None
            desc = fn.get('description') or ''
            if not isinstance(desc, str):
                raise RequestError(f'{where}.function.description must be a string', param=where)
            tools.append(Tool(name, '', desc, dict(params)))
        # internal names, once every client name is known (a mapped name must not clash with a client's own)
        names = {t.name for t in tools}
        out = []
        for t in tools:
            internal = t.name
            if not PROTOCOL_NAME.fullmatch(internal):
                internal = 'fn_' + t.name
                while internal in names or internal in taken:
                    internal = '_' + internal
            taken.add(internal)
            out.append(Tool(t.name, internal, t.description, t.parameters))
        return cls(out)


# --- tool_choice --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    mode: Literal['auto', 'none', 'required', 'named']
    name: str | None = None      # client name, for 'named'


def parse_tool_choice(raw: Any, tools: ToolSet) -> Choice:
    if raw is None:
        return Choice('auto' if tools else 'none')
    if raw in ('auto', 'none', 'required'):
        if raw == 'required' and not tools:
            raise RequestError('tool_choice "required" needs at least one tool in tools', param='tool_choice')
        return Choice(raw)
    if isinstance(raw, Mapping) and raw.get('type') == 'function' and isinstance(raw.get('function'), Mapping):
        name = raw['function'].get('name')
        if name not in tools.by_name:
            offered = ', '.join(tools.by_name) or 'none'
            raise RequestError(f'tool_choice names {name!r}, which is not in tools (offered: {offered})',
                               param='tool_choice')
        return Choice('named', name)
    raise RequestError('tool_choice must be "auto", "none", "required" or {"type": "function", "function": '
                       '{"name": ...}}', param='tool_choice')


# --- messages -----------------------------------------------------------------------------------------------------

class ThoughtMemory:
    """The thought the model wrote before each tool call it returned, by call id (bounded).

    OpenAI messages have no place for it: a client sends the assistant turn back with ``tool_calls`` only. Putting
    the model's own thought back keeps the next prompt byte-identical to what the runtime would render."""

    def __init__(self, size: int = 4096):
        self._items: OrderedDict[str, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, call_id: str, thought: str) -> None:
        with self._lock:
            self._items[call_id] = thought
            self._items.move_to_end(call_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, call_id: str) -> str | None:
        with self._lock:
            return self._items.get(call_id)


def text_of(content: Any, where: str) -> str:
    """A message's text: a string, or a list of text parts (other parts are refused: this model reads text)."""
    if content is None:
        return ''
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, Mapping) or part.get('type') != 'text' or not isinstance(part.get('text'), str):
                kind = part.get('type') if isinstance(part, Mapping) else type(part).__name__
                raise RequestError(f'{where}.content[{j}] is a {kind!r} part; this model reads text parts only',
                                   param=f'{where}.content')
            parts.append(part['text'])
        return ''.join(parts)
    raise RequestError(f'{where}.content must be a string or a list of text parts', param=f'{where}.content')


def check_messages(messages: Any) -> list[Mapping]:
    if not isinstance(messages, list) or not messages:
        raise RequestError('messages must be a non-empty list', param='messages')
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or m.get('role') not in ('system', 'developer', 'user', 'assistant', 'tool'):
            raise RequestError(f'messages[{i}].role must be system, developer, user, assistant or tool',
                               param=f'messages[{i}].role')
    return messages


def render_passthrough(messages: Sequence[Mapping]) -> list[dict]:
    """A request without tools: the messages as the client wrote them (developer counts as system)."""
    out = []
    for i, m in enumerate(check_messages(messages)):
        if m['role'] == 'tool' or m.get('tool_calls'):
            raise RequestError(f'messages[{i}] carries a tool call or result, but the request has no tools',
                               param=f'messages[{i}]')
        role = 'system' if m['role'] == 'developer' else m['role']
        out.append({'role': role, 'content': text_of(m.get('content'), f'messages[{i}]')})
    return out


def render_request(messages: Sequence[Mapping], tools: ToolSet, memory: ThoughtMemory | None = None,
                   lang: protocol.Lang = 'en') -> list[dict]:
    """The protocol messages for a request with tools: the tools' system prompt, then the client's turns, each tool
    call as an Action turn and each tool result as a Response turn (what protocol.render_messages writes)."""
    out: list[dict] = [{'role': 'system', 'content': protocol.render_system(tools.specs(), lang)}]
    pending: dict[str, str] = {}              # call id -> internal name, awaiting its tool message
    for i, m in enumerate(check_messages(messages)):
        where = f'messages[{i}]'
        role = m['role']
        if role in ('system', 'developer', 'user'):
            out.append({'role': 'user' if role == 'user' else 'system', 'content': text_of(m.get('content'), where)})
            continue
        if role == 'assistant':
            calls = m.get('tool_calls') or []
            content = text_of(m.get('content'), where)
            if not calls:
                out.append({'role': 'assistant', 'content': protocol.render_finish(
                    (memory and memory.get(_answer_key(content))) or 'I now know the final answer.', content)})
                continue
            if not isinstance(calls, list):
                raise RequestError(f'{where}.tool_calls must be a list', param=f'{where}.tool_calls')
            for j, call in enumerate(calls):
                cw = f'{where}.tool_calls[{j}]'
                fn = call.get('function') if isinstance(call, Mapping) else None
                if not isinstance(fn, Mapping) or not isinstance(call.get('id'), str):
                    raise RequestError(f'{cw} must have an id and a function', param=cw)
                tool = tools.by_name.get(fn.get('name'))
                if tool is None:
                    raise RequestError(f'{cw}.function.name {fn.get("name")!r} is not in tools', param=cw)
                args = fn.get('arguments') or '{}'
                if not isinstance(args, str):
                    raise RequestError(f'{cw}.function.arguments must be a JSON string', param=cw)
                try:
                    parsed = json.loads(args)
                except json.JSONDecodeError:
                    parsed = None
                thought = (memory and memory.get(call['id'])) or (content if j == 0 and content else
                                                                   DEFAULT_THOUGHT.format(name=tool.internal))
                out.append({'role': 'assistant', 'content': protocol.render_action(
                    thought, tool.internal, parsed if isinstance(parsed, dict) else args)})
                pending[call['id']] = tool.internal
                # the protocol has one call per turn: a second call in the same message waits for the first result
                if j < len(calls) - 1:
                    nxt = _tool_message_for(messages, i, call['id'])
                    if nxt is None:
                        raise RequestError(f'{cw} has no tool message with tool_call_id {call["id"]!r}', param=cw)
                    out.append({'role': 'user', 'content': protocol.render_response(
                        text_of(nxt.get('content'), 'tool message'))})
                    pending.pop(call['id'])
            continue
        # role == 'tool'
        call_id = m.get('tool_call_id')
        if call_id not in pending:
            if any(call_id == c.get('id') for prev in messages[:i] if isinstance(prev, Mapping)
                   for c in (prev.get('tool_calls') or []) if isinstance(c, Mapping)):
                continue                          # already rendered in order with its call
            raise RequestError(f'{where}.tool_call_id {call_id!r} answers no earlier tool call',
                               param=f'{where}.tool_call_id')
        pending.pop(call_id)
        out.append({'role': 'user', 'content': protocol.render_response(text_of(m.get('content'), where))})
    return out


def _tool_message_for(messages: Sequence[Mapping], after: int, call_id: str) -> Mapping | None:
    for m in messages[after + 1:]:
        if isinstance(m, Mapping) and m.get('role') == 'tool' and m.get('tool_call_id') == call_id:
            return m
    return None


def _answer_key(content: str) -> str:
    return 'answer:' + content


# --- the model's output -------------------------------------------------------------------------------------------

@dataclass
class ToolCall:
    id: str
    name: str                    # client name
    arguments: str               # a JSON string (what OpenAI sends)

    def to_dict(self) -> dict:
        return {'id': self.id, 'type': 'function', 'function': {'name': self.name, 'arguments': self.arguments}}


@dataclass
class Reply:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str = ''                      # the model's thought
    finish_reason: str = 'stop'              # stop | length | tool_calls

    def message(self) -> dict:
        msg: dict[str, Any] = {'role': 'assistant', 'content': self.content}
        if self.tool_calls:
            msg['tool_calls'] = [c.to_dict() for c in self.tool_calls]
        if self.reasoning:
            msg['reasoning_content'] = self.reasoning
        return msg


def new_call_id() -> str:
    return 'call_' + secrets.token_hex(12)


def reply_from_text(text: str, tools: ToolSet, length_cut: bool, memory: ThoughtMemory | None = None) -> Reply:
    """What one protocol output says, as an OpenAI assistant message. A call names an offered tool or it is not a
    call (an invented name comes back as text, never as a call a client would try to run)."""
    parsed = protocol.parse(text, 'tolerant')
    if parsed.kind == 'call' and parsed.name in tools.by_internal:
        tool = tools.by_internal[parsed.name]
        args = (json.dumps(parsed.arguments, ensure_ascii=False) if parsed.arguments is not None
                else parsed.raw_arguments)
        call = ToolCall(new_call_id(), tool.name, args)
        if memory is not None:
            memory.put(call.id, parsed.thought)
        return Reply(None, [call], parsed.thought, 'tool_calls')
    if parsed.kind == 'finish':
        if memory is not None and parsed.thought:
            memory.put(_answer_key(parsed.answer), parsed.thought)
        return Reply(parsed.answer, [], parsed.thought, 'length' if length_cut else 'stop')
    # neither a call of an offered tool nor a final answer: the text, without the protocol's markers
    return Reply(strip_markers(text), [], parsed.thought, 'length' if length_cut else 'stop')


_MARKERS = re.compile(r'^\s*(?:%s|%s|%s|%s)\s*' % tuple(re.escape(m) for m in (
    protocol.THOUGHT, protocol.ACTION_INPUT, protocol.ACTION, protocol.FINISH)), re.M)


def strip_markers(text: str) -> str:
    return _MARKERS.sub('', text).strip()
