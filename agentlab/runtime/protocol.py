"""The ReAct protocol: the single owner of the text a tool-calling model reads and writes.

This is Lagent 0.2.4's ReAct protocol (``lagent.agents.react``), which is also what Agent-FLAN's data teaches:

* a system prompt listing the tools (Python repr of Lagent-style description dicts) and the format;
* assistant turns ``Thought: ...`` / ``Action: NAME`` / ``Action Input: {json}``, or ``Final Answer: ...``;
* tool results fed back as **user-side** turns beginning ``Response:`` (Agent-FLAN carries them as user turns;
  Lagent's own agent sends them as system turns, which is why agentlab runs its own loop).

Converters, the data engine, the runtime and the evaluator all render and parse through this module, so the text
the runtime sends for a conversation is byte-identical to what the training data renders for it.

Parsing has two modes. ``strict`` follows Lagent's parser and argument checks exactly (the number a Lagent user
would see). ``tolerant`` additionally recovers the common near-misses of untuned models (code fences, Python dict
literals, ``key=value`` arguments, trailing prose, a missing newline) and records which rule fired, so evaluations
can report both rates. Neither mode raises on any input text.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence

# --- Lagent 0.2.4's prompt text, verbatim (tests compare it with lagent.agents.react) -------------------------

CALL_PROTOCOL_CN = """你是一个可以调用外部工具的助手，可以使用的工具包括：
{tool_description}
如果使用工具请遵循以下格式回复：
```
{thought}思考你当前步骤需要解决什么问题，是否需要使用工具
{action}工具名称，你的工具必须从 [{action_names}] 选择
{action_input}工具输入参数
```
工具返回按照以下格式回复：
```
{response}调用工具后的结果
```
如果你已经知道了答案，或者你不需要工具，请遵循以下格式回复
```
{thought}给出最终答案的思考过程
{finish}最终答案
```
开始!"""

FORCE_STOP_PROMPT_CN = '你需要基于历史消息返回一个最终结果'

CALL_PROTOCOL_EN = """You are a assistant who can utilize external tools.
{tool_description}
To use a tool, please use the following format:
```
{thought}Think what you need to solve, do you need to use tools?
{action}the tool name, should be one of [{action_names}]
{action_input}the input to the action
```
The response after utilizing tools should using the following format:
```
{response}the results after call the tool.
```
If you already know the answer, or you do not need to use tools,
please using the following format to reply:
```
{thought}the thought process to get the final answer
{finish}final answer
```
Begin!"""

FORCE_STOP_PROMPT_EN = """You should directly give results
 based on history information."""

THOUGHT = 'Thought:'
ACTION = 'Action:'
ACTION_INPUT = 'Action Input:'
RESPONSE = 'Response:'
FINISH = 'Final Answer:'

# Lagent's JsonParser adds this to every tool description it manages.
JSON_PARAMETER_DESCRIPTION = ('If you call this tool, you must pass arguments in '
                              'the JSON format {key: value}, where the key is the parameter name.')

# Lagent's fixed replies when a step cannot be executed.
NO_ACTION_MESSAGE = 'Please follow the format'
INVALID_ACTION_MESSAGE = 'The action is invalid, please check the action name.'
DEFAULT_GIVE_UP = 'Sorry that I cannot answer your question.'

# Text after which a model must stop generating: it would otherwise invent the tool's result.
STOP_WORDS = ('\n' + RESPONSE, RESPONSE)

Lang = Literal['en', 'zh']
_PROTOCOLS = {'en': (CALL_PROTOCOL_EN, FORCE_STOP_PROMPT_EN), 'zh': (CALL_PROTOCOL_CN, FORCE_STOP_PROMPT_CN)}

# --- Tool descriptions ----------------------------------------------------------------------------------------

# JSON-schema types (and the Python type words BFCL writes) -> the type words Lagent's tool_api writes (STRING,
# NUMBER for int, FLOAT, BOOLEAN, Array, OBJECT): what Agent-FLAN-tuned models read.
_LAGENT_TYPES = {
    'string': 'STRING', 'str': 'STRING', 'integer': 'NUMBER', 'int': 'NUMBER', 'number': 'FLOAT',
    'float': 'FLOAT', 'boolean': 'BOOLEAN', 'bool': 'BOOLEAN', 'array': 'Array', 'list': 'Array',
    'tuple': 'Array', 'object': 'OBJECT', 'dict': 'OBJECT', 'any': 'STRING', 'null': 'STRING',
}
# Kept as the schema wrote them, nested item and property schemas included, so nothing of a schema is lost.
_PASSTHROUGH_KEYS = ('enum', 'default', 'items', 'properties', 'required', 'format', 'minimum', 'maximum')
TUPLE_NOTE = ' (a tuple, written as a JSON array)'


def tool_description(spec: Mapping[str, Any], description_suffix: str = '') -> dict:
    """Return the Lagent-style description dict of a tool, as Lagent would put it in the system prompt.

    Accepts a Lagent description (``parameters`` is a list), an OpenAI/BFCL function schema (``parameters`` is a
    JSON-schema object), or an OpenAI ``{"type": "function", "function": {...}}`` wrapper. ``description_suffix``
    is appended to the tool's description (BFCL's language hint).
    """
    if spec.get('type') == 'function' and isinstance(spec.get('function'), Mapping):
        spec = spec['function']
    if 'name' not in spec:
        raise ValueError(f'tool spec has no "name": {dict(spec)!r:.120}')
    params = spec.get('parameters') or []
    if isinstance(params, list):  # already Lagent-style
        desc = {k: v for k, v in spec.items()}
        desc.setdefault('description', '')
        desc['parameters'] = list(params)
        desc.setdefault('required', [])
        desc['parameter_description'] = JSON_PARAMETER_DESCRIPTION
        return desc
    properties = params.get('properties') or {}
    parameters = []
    for pname, pschema in properties.items():
        pschema = pschema if isinstance(pschema, Mapping) else {}
        ptype = str(pschema.get('type', 'string')).lower()
        entry = {'name': pname, 'type': _LAGENT_TYPES.get(ptype, 'STRING'),
                 'description': (pschema.get('description') or '') + (TUPLE_NOTE if ptype == 'tuple' else '')}
        entry.update({k: pschema[k] for k in _PASSTHROUGH_KEYS if k in pschema})
        parameters.append(entry)
    return {'name': spec['name'], 'description': (spec.get('description') or '') + description_suffix,
            'parameters': parameters, 'required': list(params.get('required') or []),
            'parameter_description': JSON_PARAMETER_DESCRIPTION}


def render_system(tools: Sequence[Mapping[str, Any]], lang: Lang = 'en') -> str:
    """The ReAct system prompt for ``tools`` (any spec accepted by :func:`tool_description`)."""
    protocol, _ = _PROTOCOLS[lang]
    descs = [tool_description(t) for t in tools]
    return protocol.format(tool_description=descs, action_names=[d['name'] for d in descs], thought=THOUGHT,
                           action=ACTION, action_input=ACTION_INPUT, response=RESPONSE, finish=FINISH)


def find_tool_list(system: str) -> tuple[int, int, list[dict]] | None:
    """(start, end, descriptions) of the tool list inside a system prompt render_system wrote, or None.

    The list is the ``str()`` of a list of dicts, so it is read back with ``ast.literal_eval`` (structurally, never
    by text search): name masking rewrites it, and an endpoint scored through its tool-calling API gets its tools
    from it."""
    import ast
    start = system.find("[{'name': ")
    if start == -1:
        return None
    for m in re.finditer(r'\}\]', system[start:]):
        end = start + m.end()
        try:
            value = ast.literal_eval(system[start:end])
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, list) and all(isinstance(d, dict) and 'name' in d for d in value):
            return start, end, value
    return None


# Lagent's parameter types back to JSON Schema (tool_description's map the other way; NUMBER was an integer).
_JSON_TYPES = {'STRING': 'string', 'NUMBER': 'integer', 'FLOAT': 'number', 'BOOLEAN': 'boolean', 'Array': 'array',
               'OBJECT': 'object'}


# Python type names that BFCL's function docs use inside nested schemas, as JSON Schema has them (BFCL's own
# OpenAI handler maps them the same way); 'any' has no JSON Schema type, so it loses its type (anything goes).
_PYTHON_TYPES = {'dict': 'object', 'float': 'number', 'tuple': 'array', 'int': 'integer', 'str': 'string',
                 'bool': 'boolean', 'list': 'array'}


def json_schema(schema: Any, widen_numbers: bool = False) -> Any:
    """A (nested) parameter schema with Python type names (BFCL's dialect) mapped to JSON Schema's. With
    ``widen_numbers`` a 'number' also admits integers explicitly (the data engine validates with it)."""
    if isinstance(schema, list):
        return [json_schema(s, widen_numbers) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {}
    for k, v in schema.items():
        if k == 'type' and isinstance(v, str):
            if v == 'any':
                continue
            out[k] = _PYTHON_TYPES.get(v, v)
        elif k in ('items', 'additionalProperties'):
            out[k] = json_schema(v, widen_numbers)
        elif k == 'properties' and isinstance(v, Mapping):
            out[k] = {name: json_schema(p, widen_numbers) for name, p in v.items()}
        else:
            out[k] = v
    if widen_numbers and out.get('type') == 'number':
        out['type'] = ['number', 'integer']      # 5 is a fine float; Python and BFCL agree
    return out


def openai_function(desc: Mapping[str, Any]) -> dict:
    """An OpenAI function schema for a Lagent-style description. tool_description() of it renders the same
    description again (types, enums, defaults, nested schemas and the required list kept), except where a nested
    schema used Python type names (BFCL's 'dict', 'float', 'tuple'): JSON Schema has no such types, so they become
    'object', 'number', 'array'. Lagent's extra keys (return_data) have no place in an OpenAI function and are
    dropped."""
    properties = {}
    for p in desc.get('parameters') or []:
        schema = {'type': _JSON_TYPES.get(p.get('type'), 'string'), 'description': p.get('description', '')}
        schema.update(json_schema({k: p[k] for k in _PASSTHROUGH_KEYS if k in p}))
        properties[p['name']] = schema
    return {'name': desc['name'], 'description': desc.get('description', ''),
            'parameters': {'type': 'object', 'properties': properties, 'required': list(desc.get('required') or [])}}


def force_stop_prompt(lang: Lang = 'en') -> str:
    return _PROTOCOLS[lang][1]


# --- Turn rendering -------------------------------------------------------------------------------------------

def render_arguments(arguments: Mapping[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False)


def render_action(thought: str, name: str, arguments: Mapping[str, Any] | str) -> str:
    """An assistant turn that calls one tool."""
    args = arguments if isinstance(arguments, str) else render_arguments(arguments)
    return f'{THOUGHT} {thought}\n{ACTION} {name}\n{ACTION_INPUT} {args}'


def render_finish(thought: str, answer: str) -> str:
    """An assistant turn that ends the episode."""
    return f'{THOUGHT} {thought}\n{FINISH} {answer}'


def render_response(observation: str) -> str:
    """A tool result as the user-side turn that carries it back (Lagent: begin + result + end)."""
    return f'{RESPONSE}{observation}\n'


def observation_text(result: Any) -> str:
    """How a tool's return value is written into a Response turn (Lagent's BaseParser.parse_outputs)."""
    if isinstance(result, str):
        return result
    if isinstance(result, (dict, list)):
        return json.dumps(result, ensure_ascii=False)
    return str(result)


@dataclass
class Step:
    """One assistant step of a trajectory: a tool call with its observation, or a final answer."""
    thought: str
    name: str | None = None            # tool name; None for a final answer
    arguments: Mapping[str, Any] | str | None = None
    observation: str | None = None
    answer: str | None = None

    def assistant_text(self) -> str:
        if self.name is None:
            return render_finish(self.thought, self.answer or '')
        return render_action(self.thought, self.name, self.arguments or {})


def render_messages(tools: Sequence[Mapping[str, Any]], user: str, steps: Iterable[Step],
                    lang: Lang = 'en', history: Sequence[Mapping[str, str]] = ()) -> list[dict]:
    """Chat messages for one ReAct episode: system prompt, prior history, the user request, then each step's
    assistant turn followed (for tool calls) by the user-side ``Response:`` turn."""
    messages = [{'role': 'system', 'content': render_system(tools, lang)}]
    messages += [dict(m) for m in history]
    messages.append({'role': 'user', 'content': user})
    for step in steps:
        messages.append({'role': 'assistant', 'content': step.assistant_text()})
        if step.name is not None and step.observation is not None:
            messages.append({'role': 'user', 'content': render_response(step.observation)})
    return messages


# --- Parsing --------------------------------------------------------------------------------------------------

ParseMode = Literal['strict', 'tolerant']


@dataclass
class Parsed:
    """What one model output says to do.

    kind: 'call' (a tool call: ``name`` and ``arguments``, or ``error`` when the arguments are unusable),
    'finish' (``answer``), or 'none' (no action found: Lagent answers "Please follow the format").
    ``recoveries`` names each tolerant rule that fired; empty means the output was strictly valid.
    """
    kind: Literal['call', 'finish', 'none']
    thought: str = ''
    name: str = ''
    raw_arguments: str = ''
    arguments: dict | None = None
    error: str | None = None
    answer: str = ''
    recoveries: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.kind == 'finish' or (self.kind == 'call' and self.error is None)


def _lagent_split(text: str) -> tuple[str, str | None, str | None, str | None]:
    """Lagent 0.2.4's ReActProtocol.parse: (thought, final answer, action, action input)."""
    thought = text.split(ACTION)[0].split(THOUGHT)[-1].split(FINISH)[0]
    if FINISH in text:
        return thought, text.split(FINISH)[-1], None, None
    actions = re.findall(f'{ACTION}(.*?)\n', text)
    if not actions:
        return thought, None, None, None
    inputs = re.findall(f'{ACTION_INPUT}(.*)', text, re.DOTALL)
    if not inputs:
        return thought, None, None, None
    return thought, None, actions[-1].strip(), inputs[-1].strip().strip('"')


def _lagent_json(raw: str) -> dict | None:
    """Lagent's JsonParser.parse_inputs: an optional ```json fence, then json.loads; None when it fails."""
    match = re.search(r'^\s*(```json\n)?(.*)\n```\s*$', raw, re.S)
    if match:
        raw = match.group(2).strip()
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def parse(text: str, mode: ParseMode = 'strict') -> Parsed:
    """Parse one model output. Never raises."""
    strict, tolerant = parse_both(text)
    return strict if mode == 'strict' else tolerant


def parse_both(text: str) -> tuple[Parsed, Parsed]:
    """(strict, tolerant) readings of one model output, parsing it once under the strict rules. Never raises."""
    if not isinstance(text, str):
        text = '' if text is None else str(text)
    try:
        strict = _parse_strict(text)
    except Exception as exc:  # pragma: no cover - a guard: parsing untrusted text must never crash a caller
        failed = Parsed('none', error=f'parser error: {type(exc).__name__}')
        return failed, failed
    if strict.ok and not (strict.kind == 'call' and not _NAME_CHARS.fullmatch(strict.name)):
        return strict, strict
    try:
        return strict, _parse_tolerant(text, strict)
    except Exception as exc:  # pragma: no cover
        return strict, Parsed('none', error=f'parser error: {type(exc).__name__}')


def _parse_strict(text: str) -> Parsed:
    thought, answer, name, raw = _lagent_split(text)
    if answer is not None:
        return Parsed('finish', thought=thought.strip(), answer=answer.strip())
    if name is None:
        return Parsed('none', thought=thought.strip(), error=NO_ACTION_MESSAGE)
    args = _lagent_json(raw)
    error = None if args is not None else f'invalid json format: {raw}'
    return Parsed('call', thought=thought.strip(), name=name, raw_arguments=raw, arguments=args, error=error)


_FENCE = re.compile(r'```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```', re.S)
_NAME_CHARS = re.compile(r'[A-Za-z_][\w.\-]*')
_KEY_VALUE = re.compile(r'(?:^|[,;\n&]\s*|\s+)([A-Za-z_]\w*)\s*[=:]\s*')


def _tolerant_arguments(raw: str) -> tuple[dict | None, list[str]]:
    """Recover an argument dict from a malformed Action Input; returns (arguments, rules that fired)."""
    rules: list[str] = []
    candidate = raw.strip()
    fence = _FENCE.search(candidate)
    if fence:
        candidate = fence.group(1).strip()
        rules.append('code_fence')
    candidate = candidate.strip().strip('`').strip()
    if candidate.startswith('{'):
        try:
            value, end = json.JSONDecoder().raw_decode(candidate)
            if isinstance(value, dict):
                if candidate[end:].strip():
                    rules.append('trailing_text')
                return value, rules
        except (json.JSONDecodeError, RecursionError):
            pass
        literal = _balanced_braces(candidate)
        if literal is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')   # invalid escape sequences in model text are not our bug
                    value = ast.literal_eval(literal)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = None
            if isinstance(value, dict) and all(isinstance(k, str) for k in value):
                rules.append('python_literal')
                if candidate[len(literal):].strip():
                    rules.append('trailing_text')
                return value, rules
    kv = _key_values(candidate)
    if kv:
        rules.append('key_value')
        return kv, rules
    return None, rules


def _balanced_braces(text: str) -> str | None:
    depth, quote, escaped = 0, '', False
    for i, ch in enumerate(text[:100_000]):
        if quote:
            if escaped:
                escaped = False
            elif ch == '\\':
                escaped = True
            elif ch == quote:
                quote = ''
        elif ch in '"\'':
            quote = ch
        elif ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0:
                return text[:i + 1]
    return None


def _key_values(text: str) -> dict | None:
    """``query=InternLM2 Technical Report`` or ``a=1, b="x"`` -> a dict (values JSON-decoded when they can be)."""
    first_line = text.strip()
    if not first_line or len(first_line) > 10_000:
        return None
    matches = list(_KEY_VALUE.finditer(first_line))
    if not matches or matches[0].start() != 0 and first_line[:matches[0].start()].strip(',;&\n '):
        return None
    result: dict[str, Any] = {}
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(first_line)
        value = first_line[m.end():end].strip().rstrip(',;&').strip()
        if not value:
            return None
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        else:
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, RecursionError):
                pass
        result[m.group(1)] = value
    return result


def _parse_tolerant(text: str, strict: Parsed) -> Parsed:
    rules: list[str] = []
    name = strict.name
    # Lagent strips quotes off both ends of the Action Input; a key="value" argument needs its closing quote back.
    inputs = re.findall(f'{ACTION_INPUT}(.*)', text, re.DOTALL)
    raw = inputs[-1].strip() if inputs else strict.raw_arguments
    if strict.kind == 'none':
        # Missing newline after the tool name: "Action: search Action Input: {...}" or "Action: search" at the end.
        m = re.search(f'{ACTION}\\s*(.*?)\\s*(?:{ACTION_INPUT}(.*))?$', text, re.S)
        if not m:
            return strict
        name = m.group(1).strip()
        raw = (m.group(2) or '').strip().strip('"')
        rules.append('missing_newline')
    clean = _NAME_CHARS.search(name.strip('`\'" *'))
    if not clean:
        return strict
    if clean.group(0) != name:
        rules.append('tool_name_cleaned')
    name = clean.group(0)
    args = _lagent_json(raw)
    if args is None:
        args, arg_rules = _tolerant_arguments(raw)
        rules += arg_rules
        if args is None and not raw.strip():
            args = {}
            rules.append('empty_arguments')
    if args is None:
        return Parsed('call', thought=strict.thought, name=name, raw_arguments=raw,
                      error=f'invalid json format: {raw}', recoveries=tuple(rules))
    return Parsed('call', thought=strict.thought, name=name, raw_arguments=raw, arguments=args,
                  recoveries=tuple(rules))
