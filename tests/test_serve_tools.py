"""agentlab's OpenAI-compatible server with function calling, really started on the embedded model and driven by
real clients: the openai SDK (sync, async, streaming), LangChain's ChatOpenAI.bind_tools and smolagents'
ToolCallingAgent, each in a tool loop with real local tools. The embedded base model rarely calls a tool on its
own, so these tests lean on tool_choice: what they check is the server's contract (forced and named calls whose
arguments match the schema, no call under "none", streams that join up, errors, concurrency), not the model.
Their tools take bounded values (enums, integer ranges): a base model can repeat itself inside a free string until
max_tokens, which a grammar cannot stop, while a bounded value must end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.error
import urllib.request

import jsonschema
import pytest

from agentlab.serve.net import free_port
from conftest import run_cli, start_serve

pytestmark = pytest.mark.slow

CALC = {'type': 'function', 'function': {
    'name': 'multiply', 'description': 'Multiply two whole numbers.',
    'parameters': {'type': 'object', 'properties': {'a': {'type': 'integer', 'minimum': 0, 'maximum': 1000},
                                                    'b': {'type': 'integer', 'minimum': 0, 'maximum': 1000}},
                   'required': ['a', 'b']}}}
WEATHER = {'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Current weather for a city.',
    'parameters': {'type': 'object', 'properties': {
        'city': {'type': 'string', 'enum': ['Oslo', 'Rome', 'Lima']},
        'unit': {'type': 'string', 'enum': ['celsius', 'fahrenheit']},
        'days': {'type': 'integer', 'minimum': 1, 'maximum': 7}}, 'required': ['city', 'unit']}}}
TOOLS = [CALC, WEATHER]
SCHEMAS = {t['function']['name']: t['function']['parameters'] for t in TOOLS}
ASK = [{'role': 'user', 'content': 'What is 17 * 23?'}]


@pytest.fixture(scope='module')
def server():
    """`agentlab serve` on the embedded model under two served names; stopped with Ctrl-C at the end."""
    port = free_port()
    log = open(os.devnull, 'w')
    proc, lines = start_serve('--model', 'smollm2-135m', '--port', str(port), '--served-model-name', 'smol',
                              '--served-model-name', 'gpt-4o-mini', stderr=log)
    assert any(ln.startswith('ready in') for ln in lines), '\n'.join(lines)
    assert f'model spec: http://127.0.0.1:{port}/v1#smol' in lines
    yield f'http://127.0.0.1:{port}/v1'
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    log.close()
    assert proc.returncode == 0 and 'server stopped' in out, out[-2000:]


@pytest.fixture(scope='module')
def client(server):
    from openai import OpenAI
    return OpenAI(base_url=server, api_key='unused', max_retries=0, timeout=300)


def _call(message):
    assert message.tool_calls, message
    call = message.tool_calls[0]
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, SCHEMAS[call.function.name])       # constrained: the arguments match the schema
    return call.function.name, args


def test_models_lists_every_served_name(client):
    assert [m.id for m in client.models.list().data] == ['smol', 'gpt-4o-mini']


def test_required_named_and_none(client):
    r = client.chat.completions.create(model='gpt-4o-mini', messages=ASK, tools=TOOLS, tool_choice='required',
                                       max_tokens=96)
    assert r.choices[0].finish_reason == 'tool_calls' and r.choices[0].message.content is None
    name, _ = _call(r.choices[0].message)
    assert name in SCHEMAS
    assert r.usage.prompt_tokens > 200 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens

    r = client.chat.completions.create(model='smol', messages=[{'role': 'user', 'content': 'Weather in Oslo?'}],
                                       tools=TOOLS, max_tokens=96,
                                       tool_choice={'type': 'function', 'function': {'name': 'get_weather'}})
    name, args = _call(r.choices[0].message)
    assert name == 'get_weather' and args['unit'] in ('celsius', 'fahrenheit')

    r = client.chat.completions.create(model='smol', messages=ASK, tools=TOOLS, tool_choice='none', max_tokens=64)
    msg = r.choices[0].message
    assert not msg.tool_calls and isinstance(msg.content, str) and r.choices[0].finish_reason in ('stop', 'length')
    assert 'Action:' not in msg.content and 'Thought:' not in msg.content


def test_a_stream_joins_up_to_the_same_answer(client):
    kw = dict(model='smol', messages=ASK, tools=TOOLS, tool_choice='required', max_tokens=96)
    whole = client.chat.completions.create(**kw).choices[0].message
    name, args, finish, usage, ids = None, '', None, None, set()
    for chunk in client.chat.completions.create(stream=True, stream_options={'include_usage': True}, **kw):
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                assert tc.index == 0
                ids.add(tc.id) if tc.id else None
                name = (tc.function and tc.function.name) or name
                args += (tc.function and tc.function.arguments) or ''
    assert (name, json.loads(args)) == _call(whole)
    assert finish == 'tool_calls' and len(ids) == 1 and usage.completion_tokens > 0


def test_a_burst_of_concurrent_requests_each_gets_its_own_answer(server):
    """Eight requests at once (dynamic batching): each named a different tool and gets a call of that tool."""
    from openai import AsyncOpenAI
    aclient = AsyncOpenAI(base_url=server, api_key='unused', max_retries=0, timeout=600)
    wanted = ['multiply', 'get_weather'] * 4

    async def one(i, name):
        r = await aclient.chat.completions.create(
            model='smol', messages=[{'role': 'user', 'content': f'Request number {i}.'}], tools=TOOLS,
            tool_choice={'type': 'function', 'function': {'name': name}}, max_tokens=64)
        return _call(r.choices[0].message)[0]

    async def main():
        return await asyncio.gather(*(one(i, n) for i, n in enumerate(wanted)))

    assert asyncio.run(main()) == wanted


def test_bad_requests_get_a_status_and_a_one_line_reason(server, client):
    import openai
    with pytest.raises(openai.BadRequestError, match='not in tools'):
        client.chat.completions.create(model='smol', messages=ASK, tools=TOOLS,
                                       tool_choice={'type': 'function', 'function': {'name': 'nope'}})
    with pytest.raises(openai.BadRequestError, match='not a valid JSON Schema'):
        client.chat.completions.create(model='smol', messages=ASK, tools=[{'type': 'function', 'function': {
            'name': 'f', 'parameters': {'type': 'object', 'properties': {'x': {'type': 7}}}}}])
    with pytest.raises(openai.NotFoundError, match='not served here'):
        client.chat.completions.create(model='gpt-5', messages=ASK)
    req = urllib.request.Request(f'{server}/chat/completions', data=b'{"model": "smol", "messages": [',
                                 headers={'Content-Type': 'application/json'})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 400 and 'not valid JSON' in json.loads(err.value.read())['error']['message']
    # the server is still up and answering
    assert client.models.list().data


def test_langchain_tool_loop(server):
    """LangChain's ChatOpenAI with bind_tools: a forced call, agentlab's real Calculator run on its arguments, the
    result back as a ToolMessage, then an answer."""
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel, Field

    from agentlab.tools import ToolBox
    box = ToolBox.from_spec('calculator')

    class Factors(BaseModel):
        a: int = Field(ge=0, le=1000, description='first factor')
        b: int = Field(ge=0, le=1000, description='second factor')

    @tool(args_schema=Factors)
    def calculator(a: int, b: int) -> str:
        """Multiply two whole numbers."""
        return box.call('Calculator', {'expression': f'{a} * {b}'}).text

    llm = ChatOpenAI(base_url=server, api_key='unused', model='gpt-4o-mini', temperature=0, max_tokens=96,
                     max_retries=0)
    history = [HumanMessage('What is 17 * 23? Use the calculator.')]
    first = llm.bind_tools([calculator], tool_choice='required').invoke(history)
    assert first.tool_calls and first.tool_calls[0]['name'] == 'calculator'
    args = first.tool_calls[0]['args']
    assert set(args) == {'a', 'b'} and all(0 <= v <= 1000 for v in args.values())
    observation = calculator.invoke(args)
    assert json.loads(observation)['result'] == args['a'] * args['b']
    history += [first, ToolMessage(observation, tool_call_id=first.tool_calls[0]['id'])]
    final = llm.bind_tools([calculator], tool_choice='none').invoke(history)
    assert not final.tool_calls and isinstance(final.content, str) and final.content.strip()


def test_smolagents_tool_calling_agent(server):
    """smolagents' ToolCallingAgent over OpenAIServerModel: it asks for tool calls (its own final_answer among
    them) and runs them; the run ends within its step budget with the calls in its memory."""
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    calls = []

    @tool
    def get_weather(city: bool) -> str:
        """Current weather in Oslo.

        Args:
            city: true for the city centre, false for the airport
        """
        calls.append(city)
        return f'{"centre" if city else "airport"}: 12 C, cloudy'

    model = OpenAIServerModel(model_id='smol', api_base=server, api_key='unused', max_tokens=96, temperature=0)
    agent = ToolCallingAgent(tools=[get_weather], model=model, max_steps=2, verbosity_level=0)
    agent.run('What is the weather in Oslo?')
    steps = [s for s in agent.memory.steps if getattr(s, 'tool_calls', None)]
    assert steps, agent.memory.steps
    names = {c.name for s in steps for c in s.tool_calls}
    assert names <= {'get_weather', 'final_answer'}


def test_eval_through_the_tool_calling_api_matches_in_process(embedded_model, tmp_path):
    """`agentlab eval --api tools` against `agentlab serve --free-decoding`: every BFCL case gets the verdict of the
    in-process eval, and the prompt it renders (the same prompt tokens: the bridge's rendering is byte-identical)
    wherever the case's functions are JSON Schema; 35 of BFCL's 840 use Python type names inside nested schemas
    ('float', 'dict'), which an OpenAI tool cannot carry."""

    from agentlab.evals.suites.bfcl import BFCLSuite, initial_messages
    from agentlab.runtime import protocol

    def round_trips(category: str, case_id: str) -> bool:
        case = next(c for c in BFCLSuite(category).cases() if c['id'] == case_id)
        system = initial_messages(case)[0]['content']
        descs = protocol.find_tool_list(system)[2]
        return protocol.render_system([protocol.openai_function(d) for d in descs]) == system

    port = free_port()
    proc, _ = start_serve('--model', 'smollm2-135m', '--port', str(port), '--served-model-name', 'smol',
                          '--free-decoding', stderr=(tmp_path / 'server.log').open('w'))
    try:
        suites = 'bfcl:simple_python,bfcl:multiple,bfcl:irrelevance'
        runs = {}
        for name, model, extra in (('local', str(embedded_model), []),
                                   ('api', f'http://127.0.0.1:{port}/v1#smol', ['--api', 'tools'])):
            res = run_cli('eval', '--model', model, '--suite', suites, '--limit', '3', '--out', str(tmp_path / name),
                          '--workers', '3', *extra, timeout=1200)
            assert res.returncode == 0, res.stderr[-3000:] + (tmp_path / 'server.log').read_text()[-3000:]
            runs[name] = {(c['suite'], c['id']): c for c in map(json.loads, (tmp_path / name / 'cases.jsonl').open())}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert runs['local'].keys() == runs['api'].keys() and len(runs['local']) == 9
    identical = 0
    for key, local in runs['local'].items():
        api = runs['api'][key]
        assert api['verdict']['correct'] == local['verdict']['correct'], key
        if round_trips(key[0].split(':')[1], key[1]):
            identical += 1
            assert api['prompt_tokens'] == local['prompt_tokens'], key
    assert identical >= 6
    results = json.loads((tmp_path / 'api' / 'results.json').read_text())
    assert results['backend']['api'] == 'tools'
