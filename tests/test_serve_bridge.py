"""The serve bridge without a model: OpenAI requests rendered into the protocol byte for byte as the runtime and the
BFCL suite render them, every client mistake a 400 naming the field, outputs mapped to tool_calls, and the streamed
deltas joining up to the non-streamed answer."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentlab.runtime import protocol
from agentlab.serve.api import prepare, stream_chunks
from agentlab.serve.bridge import (Reply, RequestError, ThoughtMemory, ToolCall, ToolSet, parse_tool_choice,
                                   render_request, reply_from_text)

WEATHER = {'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Current weather for a city.',
    'parameters': {'type': 'object', 'properties': {
        'city': {'type': 'string', 'description': 'the city'},
        'unit': {'type': 'string', 'enum': ['c', 'f'], 'default': 'c'},
        'when': {'type': 'object', 'properties': {'day': {'type': 'integer', 'minimum': 0}}, 'required': ['day']},
        'tags': {'type': 'array', 'items': {'type': 'string'}}},
        'required': ['city']}}}
NOW = {'type': 'function', 'function': {'name': '2nd-clock', 'description': 'The time now.'}}


def body(**kw):
    out = {'model': 'm', 'messages': [{'role': 'user', 'content': 'Weather in Oslo?'}], 'tools': [WEATHER]}
    out.update(kw)
    return out


def test_request_renders_exactly_what_the_runtime_renders():
    tools = ToolSet.from_request([WEATHER])
    got = render_request([{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Weather?'}], tools)
    want = protocol.render_messages([WEATHER['function']], 'Weather?', [],
                                    history=[{'role': 'system', 'content': 'Be brief.'}])
    assert got == want
    # types, enums, defaults, nested objects and required lists all reach the system prompt
    system = got[0]['content']
    for piece in ("'enum': ['c', 'f']", "'default': 'c'", "'required': ['day']", "'minimum': 0",
                  "'items': {'type': 'string'}", "'required': ['city']"):
        assert piece in system


def test_a_tool_loop_history_renders_as_protocol_steps_with_the_models_own_thought():
    tools = ToolSet.from_request([WEATHER])
    memory = ThoughtMemory()
    reply = reply_from_text('Thought: I will use get_weather to check.\nAction: get_weather\n'
                            'Action Input: {"city": "Oslo"}', tools, False, memory)
    call = reply.tool_calls[0]
    assert reply.finish_reason == 'tool_calls' and reply.content is None
    assert (call.name, json.loads(call.arguments)) == ('get_weather', {'city': 'Oslo'})
    history = [{'role': 'user', 'content': 'Weather in Oslo?'},
               {'role': 'assistant', 'content': None, 'tool_calls': [call.to_dict()]},
               {'role': 'tool', 'tool_call_id': call.id, 'content': '{"temp": 3}'}]
    got = render_request(history, tools, memory)
    step = protocol.Step('I will use get_weather to check.', 'get_weather', {'city': 'Oslo'}, '{"temp": 3}')
    assert got == protocol.render_messages([WEATHER['function']], 'Weather in Oslo?', [step])


def test_parallel_calls_in_history_become_one_call_per_turn_in_order():
    tools = ToolSet.from_request([WEATHER])
    calls = [{'id': f'c{i}', 'type': 'function', 'function': {'name': 'get_weather',
                                                            'arguments': json.dumps({'city': c})}}
             for i, c in enumerate(('Oslo', 'Rome'))]
    history = [{'role': 'user', 'content': 'Oslo and Rome?'}, {'role': 'assistant', 'tool_calls': calls},
               {'role': 'tool', 'tool_call_id': 'c0', 'content': 'cold'},
               {'role': 'tool', 'tool_call_id': 'c1', 'content': 'warm'}]
    got = render_request(history, tools)
    assert [m['role'] for m in got] == ['system', 'user', 'assistant', 'user', 'assistant', 'user']
    assert 'Oslo' in got[2]['content'] and got[3]['content'] == protocol.render_response('cold')
    assert 'Rome' in got[4]['content'] and got[5]['content'] == protocol.render_response('warm')


def test_names_the_protocol_cannot_read_are_mapped_both_ways():
    tools = ToolSet.from_request([WEATHER, NOW])
    assert tools.by_name['2nd-clock'].internal == 'fn_2nd-clock'
    assert "'fn_2nd-clock'" in protocol.render_system(tools.specs())
    reply = reply_from_text('Thought: time.\nAction: fn_2nd-clock\nAction Input: {}', tools, False)
    assert reply.tool_calls[0].name == '2nd-clock'
    assert reply.tool_calls[0].arguments == '{}'                  # a zero-argument call is "{}"


def test_an_invented_tool_comes_back_as_text_never_as_a_call():
    tools = ToolSet.from_request([WEATHER])
    reply = reply_from_text('Thought: I need math.\nAction: math.integral\nAction Input: {"f": "x"}', tools, False)
    assert reply.tool_calls == [] and reply.finish_reason == 'stop'
    assert 'Action' not in reply.content and 'Thought' not in reply.content


def test_call_ids_are_unique():
    tools = ToolSet.from_request([WEATHER])
    ids = {reply_from_text('Thought: t\nAction: get_weather\nAction Input: {"city": "x"}', tools, False)
           .tool_calls[0].id for _ in range(200)}
    assert len(ids) == 200


@pytest.mark.parametrize('tools,message', [
    ([{'type': 'retrieval'}], 'tools[0].type must be "function"'),
    ([{'type': 'function', 'function': {'name': 'has space'}}], 'tools[0].function.name must match'),
    ([WEATHER, WEATHER], "'get_weather' is given twice"),
    ([{'type': 'function', 'function': {'name': 'f', 'parameters': {'type': 'object',
                                                                    'properties': {'x': {'type': 'strin'}}}}}],
     'tools[0].function.parameters is not a valid JSON Schema'),
    ([{'type': 'function', 'function': {'name': 'f', 'parameters': {'type': 'array'}}}], 'of type "object"'),
    ('get_weather', 'tools must be a list'),
])
def test_bad_tools_are_400_naming_the_field(tools, message):
    with pytest.raises(RequestError, match=re.escape(message)) as err:
        prepare(body(tools=tools), ['m'], ThoughtMemory())
    assert err.value.status == 400 and '\n' not in err.value.message


@pytest.mark.parametrize('changes,message,status', [
    ({'tool_choice': {'type': 'function', 'function': {'name': 'nope'}}}, "names 'nope', which is not in tools", 400),
    ({'tool_choice': 'sometimes'}, 'tool_choice must be', 400),
    ({'tools': None, 'tool_choice': 'required'}, 'needs at least one tool', 400),
    ({'model': 'other'}, "model 'other' is not served here", 404),
    ({'n': 2}, 'n=2 is not supported', 400),
    ({'logprobs': True}, 'logprobs=True is not supported', 400),
    ({'response_format': {'type': 'json_object'}}, 'response_format other than', 400),
    ({'messages': []}, 'messages must be a non-empty list', 400),
    ({'messages': [{'role': 'robot', 'content': 'x'}]}, 'messages[0].role must be', 400),
    ({'messages': [{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': 'x'}}]}]},
     'reads text parts only', 400),
    ({'messages': [{'role': 'user', 'content': 'x'}, {'role': 'tool', 'tool_call_id': 'zz', 'content': 'r'}]},
     "tool_call_id 'zz' answers no earlier tool call", 400),
    ({'stop': ['a', 'b', 'c', 'd', 'e']}, 'up to 4 strings', 400),
    ({'max_tokens': 0}, 'max_tokens must be a positive integer', 400),
])
def test_bad_requests_are_one_line_errors(changes, message, status):
    with pytest.raises(RequestError, match=re.escape(message)) as err:
        prepare(body(**changes), ['m'], ThoughtMemory())
    assert err.value.status == status and '\n' not in err.value.message


def test_openai_fields_at_their_neutral_values_are_accepted():
    p = prepare(body(n=1, logprobs=False, frequency_penalty=0, presence_penalty=0.0, user='u', store=False,
                     parallel_tool_calls=True, metadata={'a': 'b'}, response_format={'type': 'text'},
                     tool_choice={'type': 'function', 'function': {'name': 'get_weather'}}, max_completion_tokens=64),
                ['m'], ThoughtMemory())
    assert p.choice.mode == 'named' and p.config.max_new_tokens == 64
    assert set(protocol.STOP_WORDS) <= set(p.config.stop)          # the protocol's stop words always apply
    assert parse_tool_choice(None, ToolSet.from_request([WEATHER])).mode == 'auto'


def _joined(chunks):
    content, calls, finish, usage = '', {}, None, None
    for c in chunks:
        if not c['choices']:
            usage = c['usage']
            continue
        ch = c['choices'][0]
        d = ch['delta']
        content += d.get('content') or ''
        for tc in d.get('tool_calls') or []:
            slot = calls.setdefault(tc['index'], {'id': None, 'name': None, 'arguments': ''})
            slot['id'] = tc.get('id') or slot['id']
            slot['name'] = (tc.get('function') or {}).get('name') or slot['name']
            slot['arguments'] += (tc.get('function') or {}).get('arguments') or ''
        finish = ch['finish_reason'] or finish
    return content, calls, finish, usage


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=0, max_size=300), args=st.dictionaries(st.text(max_size=8), st.integers(), max_size=5),
       size=st.integers(min_value=1, max_value=40), call=st.booleans())
def test_the_joined_stream_equals_the_answer(text, args, size, call):
    if call:
        reply = Reply(None, [ToolCall('call_1', 'f', json.dumps(args))], 'th', 'tool_calls')
    else:
        reply = Reply(text, [], 'th', 'stop')
    usage = {'prompt_tokens': 3, 'completion_tokens': 4, 'total_tokens': 7}
    chunks = list(stream_chunks(reply, usage, 'm', 'id', 0, pieces=size))
    content, calls, finish, got_usage = _joined(chunks)
    assert finish == reply.finish_reason and got_usage == usage
    assert chunks[0]['choices'][0]['delta']['role'] == 'assistant'
    if call:
        assert calls == {0: {'id': 'call_1', 'name': 'f', 'arguments': json.dumps(args)}}
    else:
        assert content == text and not calls


@settings(max_examples=80, deadline=None)
@given(thought=st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=60),
       answer=st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=80))
def test_protocol_markers_never_leak_into_content(thought, answer):
    tools = ToolSet.from_request([WEATHER])
    for text in (protocol.render_finish(thought, answer), f'Thought: {thought}\nAction: nope\nAction Input: {answer}',
                 f'{thought}\nAction Input: {answer}'):
        reply = reply_from_text(text, tools, False)
        for marker in (protocol.THOUGHT, protocol.ACTION, protocol.FINISH):
            if reply.content and marker not in thought + answer:
                assert marker not in reply.content
