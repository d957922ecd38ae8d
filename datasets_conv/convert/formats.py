"""One input row -> XTuner conversation turns, for each supported source format.

Every format is first put into Agent-FLAN's own shape, a list of ``{"role", "content", "loss"}`` turns; one function,
:func:`pair_conversation`, then folds such a list into XTuner's turn pairs ``{"system", "input", "output",
"output_with_loss"}``. So the pairing rules (loss flags, user-side roles, joining user-side turns, where system turns
go, which turns cannot be pairs) are written once and hold for every format.

A row that cannot be converted raises :class:`RowError` with a stable reason code (counted in stats.json), the
field it concerns (``conversation[2].role``) and a one-line message. Nothing here touches files.

Formats with tools (openai, sharegpt) are rendered into Lagent's ReAct text through :mod:`agentlab.runtime.protocol`, so every
source teaches the one protocol the runtime speaks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from agentlab.runtime import protocol

SYSTEM, USER, ASSISTANT = 'system', 'user', 'assistant'

# Named counters for turns that cannot be part of a training pair (stats.json "dropped_turns").
DROPPED_REASONS = ('assistant_before_first_user', 'user_after_last_assistant', 'system_after_last_assistant')


class RowError(Exception):
    """Why one row cannot be converted. ``reason`` is a stable code, ``field`` names where, ``message`` says what."""

    def __init__(self, reason: str, field: str, message: str):
        super().__init__(f'{field}: {message}' if field else message)
        self.reason = reason
        self.field = field
        self.message = message


@dataclass(slots=True)
class Converted:
    """A converted row: its XTuner pairs, how many of them are trained, the turns dropped on the way (by reason),
    and the key that decides its split."""
    pairs: list[dict]
    trained: int
    dropped: dict[str, int] | None = None
    key: str = ''


def _show(value: Any, limit: int = 60) -> str:
    """A short one-line rendering of a bad value for an error message (JSON escapes keep it on one line)."""
    text = json.dumps(value, ensure_ascii=False)
    # A lone surrogate (legal in a JSON escape, not in UTF-8) must not make printing the message itself fail.
    text = text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return text if len(text) <= limit else text[:limit] + '...'


def _type_name(value: Any) -> str:
    return {type(None): 'null', bool: 'a boolean', int: 'a number', float: 'a number', str: 'a string',
            list: 'a list', dict: 'an object'}.get(type(value), type(value).__name__)


def _require_object(row: Any) -> dict:
    if not isinstance(row, dict):
        raise RowError('not_an_object', '', f'the row is {_type_name(row)}, not a JSON object')
    return row


def _require_list(row: dict, key: str) -> list:
    if key not in row:
        raise RowError('missing_field', key, f'missing field "{key}"')
    value = row[key]
    if not isinstance(value, list):
        raise RowError('not_a_list', key, f'"{key}" is {_type_name(value)}, not a list')
    return value


def _require_text(value: Any, where: str, what: str = 'content') -> str:
    if not isinstance(value, str):
        raise RowError('non_string_content', where, f'{what} is {_type_name(value)}, not a string')
    return value


def _optional_text(row: dict, key: str) -> str:
    """A field that may be absent or null (alpaca's input, a top-level system): '' then."""
    value = row.get(key)
    return '' if value is None else _require_text(value, key, key)


def _role(turn: dict, key: str, where: str) -> str:
    """The role of a turn, as a string (a list or an object there would otherwise break set lookups)."""
    role = turn.get(key)
    if role is None:
        raise RowError('unknown_role', f'{where}.{key}', f'the turn has no "{key}"')
    if not isinstance(role, str):
        raise RowError('unknown_role', f'{where}.{key}', f'unknown role {_show(role)}')
    return role


def _row_key(row: dict, data: bytes) -> str:
    """What the train/val split hashes: the row's own id when it has one, else its bytes. Hashing content means
    exact duplicates always land in the same split, so none leaks from train into val."""
    rid = row.get('id')
    if isinstance(rid, (str, int)) and not isinstance(rid, bool):
        return f'id:{rid}'
    return 'sha1:' + hashlib.sha1(data).hexdigest()


# --- the pairing rules (Agent-FLAN's, applied to every format) -------------------------------------------------

# Tool results arrive as user turns in Agent-FLAN; other dumps name them tool/function/observation/environment.
USER_SIDE_ROLES = frozenset({'user', 'tool', 'function', 'observation', 'environment'})
_KIND = {'system': SYSTEM, 'assistant': ASSISTANT, **{role: USER for role in USER_SIDE_ROLES}}


def parse_loss(value: Any, where: str) -> bool:
    """Agent-FLAN's loss flag: true/"true"/1 train, false/"false"/0 mask, missing or null train (the dataset
    maintainers' rule; XTuner's own openai_map_fn would mask a null). Strings are compared case-insensitively."""
    if value is None or value is True:
        return True
    if value is False:
        return False
    if type(value) is int and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.lower() in ('true', 'false'):
        return value.lower() == 'true'
    raise RowError('invalid_loss', where,
                   f'loss must be true, false, "true", "false", 1, 0 or null; got {_show(value)}')


def pair_conversation(conversation: list, field: str = 'conversation') -> Converted:
    """Agent-FLAN turns -> XTuner pairs.

    * ``loss`` on an assistant turn: see parse_loss; on any other turn it means nothing (XTuner trains outputs only);
    * user, tool, function, observation and environment turns are user-side input; any other role rejects the row;
    * consecutive user-side turns become one ``input``, joined with "\\n" (never glued together);
    * a system turn applies to the pair that follows it, wherever it is (several in a row are joined with "\\n");
    * assistant turns before the first user turn, and user or system turns after the last assistant turn, cannot be
      pairs: they are dropped and counted under the names in DROPPED_REASONS;
    * an assistant turn right after another one becomes a pair with an empty input (nothing is lost);
    * a row with no trained pair is rejected: "no trainable turn".
    """
    pairs: list[dict] = []
    dropped: dict[str, int] = {}
    system: list[str] = []
    user: list[str] = []
    seen_user = False
    trained = 0
    # This loop runs for every turn of every row (350k turns in Agent-FLAN), so it only takes the well-formed path;
    # anything unexpected goes to _turn_error, which works out the precise reason.
    for i, turn in enumerate(conversation):
        try:
            kind = _KIND[turn['role']]
            content = turn['content']
        except (KeyError, TypeError, IndexError):     # not an object, no or unknown role, no content
            raise _turn_error(turn, f'{field}[{i}]') from None
        if type(content) is not str:
            raise _turn_error(turn, f'{field}[{i}]')
        if kind is USER:                    # (the kinds are module constants, so `is` compares them)
            user.append(content)
            seen_user = True
        elif kind is ASSISTANT:
            loss = turn.get('loss')
            loss = True if loss is None or loss is True else parse_loss(loss, f'{field}[{i}].loss')
            if not seen_user:
                dropped['assistant_before_first_user'] = dropped.get('assistant_before_first_user', 0) + 1
                continue
            pairs.append({'system': '\n'.join(system) if system else '', 'input': '\n'.join(user),
                          'output': content, 'output_with_loss': loss})
            trained += loss
            user = []
            if system:
                system = []
        else:
            system.append(content)
    if user:
        dropped['user_after_last_assistant'] = len(user)
    if system:
        dropped['system_after_last_assistant'] = len(system)
    if not pairs:
        raise RowError('no_trainable_turn', field, 'no trainable turn (no assistant turn after a user turn)')
    if not trained:
        raise RowError('no_trainable_turn', field, 'no trainable turn (every assistant turn has loss false)')
    return Converted(pairs, trained, dropped or None)


def _turn_error(turn: Any, where: str) -> RowError:
    """Why a turn is not usable (the role is checked before the content)."""
    if not isinstance(turn, dict):
        return RowError('not_an_object', where, f'the turn is {_type_name(turn)}, not an object')
    role = turn.get('role')
    if role is None:
        return RowError('unknown_role', f'{where}.role', 'the turn has no "role"')
    if not isinstance(role, str) or role not in _KIND:
        return RowError('unknown_role', f'{where}.role', f'unknown role {_show(role)}')
    content = turn.get('content')
    return RowError('non_string_content', f'{where}.content', f'content is {_type_name(content)}, not a string')


def _turn(role: str, content: str, loss: bool = True) -> dict:
    """A turn in Agent-FLAN's shape, as the other formats produce them."""
    return {'role': role, 'content': content, 'loss': loss}


# --- Agent-FLAN -----------------------------------------------------------------------------------------------

def convert_agent_flan(row: Any, data: bytes) -> Converted:
    """``{"id", "conversation": [{"role", "content", "loss"}]}`` (docs/engine-notes.md): already in shape."""
    row = _require_object(row)
    conv = pair_conversation(_require_list(row, 'conversation'), 'conversation')
    conv.key = _row_key(row, data)
    return conv


# --- alpaca ---------------------------------------------------------------------------------------------------

def convert_alpaca(row: Any, data: bytes) -> Converted:
    """``{"instruction", "input", "output", "system"?, "history"?}``: one trained pair (plus one per history entry,
    LLaMA-Factory's ``[[question, answer], ...]``). The input follows the instruction after "\\n", as in XTuner's and
    LLaMA-Factory's own alpaca readers."""
    row = _require_object(row)
    if 'instruction' not in row:
        raise RowError('missing_field', 'instruction', 'missing field "instruction"')
    if 'output' not in row:
        raise RowError('missing_field', 'output', 'missing field "output"')
    instruction = _require_text(row['instruction'], 'instruction', 'instruction')
    output = _require_text(row['output'], 'output', 'output')
    extra = _optional_text(row, 'input')
    system = _optional_text(row, 'system')
    turns = [_turn(SYSTEM, system)] if system else []
    history = row.get('history') or []
    if not isinstance(history, list):
        raise RowError('not_a_list', 'history', f'"history" is {_type_name(history)}, not a list')
    for i, entry in enumerate(history):
        if not (isinstance(entry, list) and len(entry) == 2):
            raise RowError('not_a_list', f'history[{i}]', 'a history entry must be [question, answer]')
        turns.append(_turn(USER, _require_text(entry[0], f'history[{i}][0]', 'question')))
        turns.append(_turn(ASSISTANT, _require_text(entry[1], f'history[{i}][1]', 'answer')))
    turns.append(_turn(USER, f'{instruction}\n{extra}' if extra else instruction))
    turns.append(_turn(ASSISTANT, output))
    conv = pair_conversation(turns, 'alpaca')
    conv.key = _row_key(row, data)
    return conv


# --- tool calls shared by openai and sharegpt -----------------------------------------------------------------

@dataclass
class ToolCall:
    name: str
    arguments: dict
    call_id: str | None = None


def _arguments(value: Any, where: str) -> dict:
    """Tool-call arguments as a dict: OpenAI sends a JSON string, LLaMA-Factory an object. Re-rendered by
    protocol.render_arguments so the text matches what the runtime writes."""
    if value is None or value == '':
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise RowError('invalid_tool_call', where, f'arguments are not valid JSON: {_show(value)}') from None
    if not isinstance(value, dict):
        raise RowError('invalid_tool_call', where, f'arguments are {_type_name(value)}, not an object')
    return value


def _tools(row: dict, key: str = 'tools') -> list[dict]:
    """The row's tool list (LLaMA-Factory stores it as a JSON string), checked so protocol.render_system can use it."""
    tools = row.get(key)
    if tools is None or tools == '':
        return []
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except (json.JSONDecodeError, RecursionError):
            raise RowError('invalid_tools', key, f'"{key}" is a string but not valid JSON: {_show(tools)}') from None
    if not isinstance(tools, list):
        raise RowError('invalid_tools', key, f'"{key}" is {_type_name(tools)}, not a list')
    for i, tool in enumerate(tools):
        # OpenAI wraps a schema as {"type": "function", "function": {...}}; others give the schema itself.
        wrapped = isinstance(tool, dict) and tool.get('type') == 'function' and isinstance(tool.get('function'), dict)
        spec = tool['function'] if wrapped else tool
        if not isinstance(spec, dict) or not isinstance(spec.get('name'), str):
            raise RowError('invalid_tools', f'{key}[{i}]', 'a tool must be an object with a string "name"')
        params = spec.get('parameters')
        if params is not None and not isinstance(params, (dict, list)):
            raise RowError('invalid_tools', f'{key}[{i}].parameters', 'parameters must be an object or a list')
        if isinstance(params, dict) and not isinstance(params.get('properties') or {}, dict):
            raise RowError('invalid_tools', f'{key}[{i}].parameters.properties', 'properties must be an object')
    return tools


def _assistant_text(content: str, tools: list) -> str:
    """A plain assistant reply. With tools it is a ReAct final answer (Lagent ends an episode with every reply to
    the user); text that already follows the protocol is kept as it is."""
    if not tools:
        return content
    if protocol.FINISH in content or protocol.parse(content).kind == 'call':
        return content
    return protocol.render_finish('', content)


def _interleave(calls: list[ToolCall], replies: list[tuple[str | None, str]], thought: str,
                loss: bool) -> list[dict]:
    """One ReAct step per call: the action (assistant) then its result (user-side ``Response:``). Replies are
    matched to calls by id, else in order; a reply that matches no call still goes in, as user-side input."""
    unused = list(replies)
    turns = []
    for i, call in enumerate(calls):
        turns.append(_turn(ASSISTANT, protocol.render_action(thought if i == 0 else '', call.name, call.arguments),
                           loss))
        match = next((r for r in unused if call.call_id is not None and r[0] == call.call_id), None)
        if match is None:
            match = next((r for r in unused if r[0] is None or r[0] not in {c.call_id for c in calls}), None)
        if match is not None:
            unused.remove(match)
            turns.append(_turn(USER, protocol.render_response(match[1])))
    turns += [_turn(USER, protocol.render_response(text)) for _, text in unused]
    return turns


def _system_first(turns: list[dict], tools: list) -> list[dict]:
    """Put the ReAct system prompt (tool descriptions) right after the row's own leading system turns, so the first
    pair's system reads "own instructions\\nprotocol"; the protocol ends with "Begin!" and so comes last."""
    if not tools:
        return turns
    lead = 0
    while lead < len(turns) and turns[lead]['role'] == SYSTEM:
        lead += 1
    try:
        prompt = protocol.render_system(tools)
    except (TypeError, ValueError, AttributeError) as exc:   # e.g. "required": 5 in a tool schema
        raise RowError('invalid_tools', 'tools', f'cannot describe the tools: {exc}'.splitlines()[0]) from None
    return turns[:lead] + [_turn(SYSTEM, prompt)] + turns[lead:]


# --- openai ---------------------------------------------------------------------------------------------------

def _openai_content(value: Any, where: str) -> str:
    """OpenAI content: a string, or a list of text parts (joined as the API joins them)."""
    if isinstance(value, list) and all(isinstance(p, dict) and p.get('type') == 'text'
                                       and isinstance(p.get('text'), str) for p in value):
        return ''.join(p['text'] for p in value)
    return _require_text(value, where)


def _openai_weight(msg: dict, where: str) -> bool:
    """OpenAI fine-tuning's per-message ``weight``: 0 masks the turn, 1 (or no weight) trains it."""
    weight = msg.get('weight')
    if weight is None:
        return True
    if type(weight) is int and weight in (0, 1):
        return weight == 1
    raise RowError('invalid_loss', f'{where}.weight', f'weight must be 0 or 1; got {_show(weight)}')


def _openai_calls(msg: dict, where: str) -> list[ToolCall]:
    raw = msg.get('tool_calls')
    if raw is None and isinstance(msg.get('function_call'), dict):      # the legacy single-call field
        raw = [{'function': msg['function_call']}]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RowError('invalid_tool_call', f'{where}.tool_calls', 'tool_calls is not a list')
    calls = []
    for j, call in enumerate(raw):
        cwhere = f'{where}.tool_calls[{j}]'
        fn = call.get('function') if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get('name'), str) or not fn['name']:
            raise RowError('invalid_tool_call', cwhere, 'a tool call needs function.name')
        call_id = call.get('id') if isinstance(call.get('id'), str) else None
        calls.append(ToolCall(fn['name'], _arguments(fn.get('arguments'), f'{cwhere}.function.arguments'), call_id))
    return calls


def convert_openai(row: Any, data: bytes) -> Converted:
    """``{"messages": [...], "tools": [...]}``: assistant ``tool_calls`` and ``tool`` replies become ReAct steps."""
    row = _require_object(row)
    messages = _require_list(row, 'messages')
    tools = _tools(row, 'tools') or _tools(row, 'functions')
    turns: list[dict] = []
    i = 0
    while i < len(messages):
        msg, where = messages[i], f'messages[{i}]'
        i += 1
        if not isinstance(msg, dict):
            raise RowError('not_an_object', where, f'the message is {_type_name(msg)}, not an object')
        role = _role(msg, 'role', where)
        if role in ('system', 'developer'):
            turns.append(_turn(SYSTEM, _openai_content(msg.get('content'), f'{where}.content')))
        elif role == 'user':
            turns.append(_turn(USER, _openai_content(msg.get('content'), f'{where}.content')))
        elif role in ('tool', 'function'):        # a reply with no call before it: still user-side input
            turns.append(_turn(USER, protocol.render_response(_openai_content(msg.get('content'),
                                                                              f'{where}.content'))))
        elif role == 'assistant':
            loss = _openai_weight(msg, where)
            calls = _openai_calls(msg, where)
            if not calls:
                content = _openai_content(msg.get('content'), f'{where}.content')
                turns.append(_turn(ASSISTANT, _assistant_text(content, tools), loss))
                continue
            if not tools:
                raise RowError('missing_tools', 'tools', 'the row calls tools but has no "tools" list to describe '
                               'them in the system prompt')
            thought = msg.get('content') or ''
            thought = _openai_content(thought, f'{where}.content').strip() if thought else ''
            replies = []
            while i < len(messages) and isinstance(messages[i], dict) and messages[i].get('role') in ('tool',
                                                                                                      'function'):
                reply = messages[i]
                replies.append((reply.get('tool_call_id') if isinstance(reply.get('tool_call_id'), str) else None,
                                _openai_content(reply.get('content'), f'messages[{i}].content')))
                i += 1
            turns += _interleave(calls, replies, thought, loss)
        else:
            raise RowError('unknown_role', f'{where}.role', f'unknown role {_show(role)}')
    conv = pair_conversation(_system_first(turns, tools), 'messages')
    conv.key = _row_key(row, data)
    return conv


# --- sharegpt (LLaMA-Factory) ---------------------------------------------------------------------------------

_SHAREGPT_USER = frozenset({'human', 'user'})
_SHAREGPT_ASSISTANT = frozenset({'gpt', 'assistant'})
_SHAREGPT_OBSERVATION = frozenset({'observation', 'tool'})


def _sharegpt_calls(value: str, where: str) -> list[ToolCall]:
    """A ``function_call`` value: JSON of {"name", "arguments"}, or a list of them (parallel calls)."""
    try:
        data = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        raise RowError('invalid_tool_call', where, f'function_call is not valid JSON: {_show(value)}') from None
    items = data if isinstance(data, list) else [data]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get('name'), str) or not item['name']:
            raise RowError('invalid_tool_call', where, 'a function_call needs a "name"')
        calls.append(ToolCall(item['name'], _arguments(item.get('arguments'), where)))
    return calls


def convert_sharegpt(row: Any, data: bytes) -> Converted:
    """``{"conversations": [{"from", "value"}], "system"?, "tools"?}`` with human / gpt / function_call / observation,
    as LLaMA-Factory writes it."""
    row = _require_object(row)
    conversations = _require_list(row, 'conversations')
    tools = _tools(row, 'tools')
    system = _optional_text(row, 'system')
    turns = [_turn(SYSTEM, system)] if system else []
    i = 0
    while i < len(conversations):
        msg, where = conversations[i], f'conversations[{i}]'
        i += 1
        if not isinstance(msg, dict):
            raise RowError('not_an_object', where, f'the turn is {_type_name(msg)}, not an object')
        role = _role(msg, 'from', where)
        value = _require_text(msg.get('value'), f'{where}.value', 'value')
        if role == 'system':
            turns.append(_turn(SYSTEM, value))
        elif role in _SHAREGPT_USER:
            turns.append(_turn(USER, value))
        elif role in _SHAREGPT_OBSERVATION:
            turns.append(_turn(USER, protocol.render_response(value)))
        elif role in _SHAREGPT_ASSISTANT:
            turns.append(_turn(ASSISTANT, _assistant_text(value, tools)))
        elif role == 'function_call':
            if not tools:
                raise RowError('missing_tools', 'tools', 'the row calls tools but has no "tools" list to describe '
                               'them in the system prompt')
            calls = _sharegpt_calls(value, f'{where}.value')
            replies = []
            while (i < len(conversations) and isinstance(conversations[i], dict)
                   and conversations[i].get('from') in ('observation', 'tool')):   # a tuple: junk may be unhashable
                replies.append((None, _require_text(conversations[i].get('value'), f'conversations[{i}].value',
                                                    'value')))
                i += 1
            turns += _interleave(calls, replies, '', True)
        else:
            raise RowError('unknown_role', f'{where}.from', f'unknown role {_show(role)}')
    conv = pair_conversation(_system_first(turns, tools), 'conversations')
    conv.key = _row_key(row, data)
    return conv


# --- dispatch -------------------------------------------------------------------------------------------------

FORMATS: dict[str, Callable[[Any, bytes], Converted]] = {
    'agent-flan': convert_agent_flan,
    'alpaca': convert_alpaca,
    'openai': convert_openai,
    'sharegpt': convert_sharegpt,
}


def parse_row(data: bytes) -> Any:
    """One record's JSON. orjson first (several times faster than the standard library on long rows); when it
    refuses, the standard library decides, because orjson is stricter (no NaN, no lone surrogate escapes) and the
    standard library's message names the column."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise RowError('invalid_utf8', '', f'not valid UTF-8 ({exc.reason} at byte offset {exc.start} of the '
                       'line)') from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError('invalid_json', '', f'invalid JSON ({exc.msg} at column {exc.colno})') from None
    except RecursionError:
        raise RowError('invalid_json', '', 'invalid JSON (nested too deeply)') from None


def convert_record(fmt: str, data: bytes) -> Converted:
    """Parse one record and convert it; raises RowError (and nothing else) when it cannot be converted."""
    row = parse_row(data)
    try:
        return FORMATS[fmt](row, data)
    except RecursionError:
        raise RowError('too_deep', '', 'the row is nested too deeply to convert') from None


def encode_pairs(pairs: list[dict]) -> bytes:
    """The output line for a converted row (UTF-8 JSON, Chinese kept readable, newline-terminated)."""
    try:
        return orjson.dumps({'conversation': pairs}, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:       # orjson.JSONEncodeError: a lone surrogate, which UTF-8 (and so a tokenizer) cannot hold
        raise RowError('invalid_text', '', 'the text holds a lone UTF-16 surrogate escape (\\udXXX), which UTF-8 '
                       'cannot represent') from None
