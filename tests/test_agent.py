"""The ReAct loop: byte parity with the training rendering, every step type, stop words, traces, the Python API."""

import json
import re

import pytest

from agentlab.runtime import protocol
from agentlab.runtime.agent import Agent
from agentlab.runtime.backends import GenerationConfig, ReplayBackend
from agentlab.tools import ToolBox
from conftest import REPO

CALC = 'Calculator'


def replay_agent(outputs, tools='calculator,dates', **kw):
    backend = ReplayBackend(outputs, cycle=False)
    return Agent(backend, ToolBox.from_spec(tools), **kw), backend


def test_messages_sent_are_byte_identical_to_the_training_rendering():
    outputs = [protocol.render_action('Multiply first.', CALC, {'expression': '17*23'}),
               protocol.render_action('Then count days.', 'DateCalculator.days_between',
                                      {'start': '2024-01-01', 'end': '2024-03-01'}),
               protocol.render_finish('Both known.', '391 and 60 days')]
    agent, backend = replay_agent(outputs)
    trace = agent.run('What is 17*23, and how many days from 2024-01-01 to 2024-03-01?')
    assert trace.status == 'finished' and trace.final_answer == '391 and 60 days'
    observations = [s.observation for s in trace.steps[:2]]
    assert json.loads(observations[0])['result'] == 391 and json.loads(observations[1]) == {'days': 60}
    steps = [protocol.Step('Multiply first.', CALC, {'expression': '17*23'}, observations[0]),
             protocol.Step('Then count days.', 'DateCalculator.days_between',
                           {'start': '2024-01-01', 'end': '2024-03-01'}, observations[1]),
             protocol.Step('Both known.', answer='391 and 60 days')]
    training = protocol.render_messages(agent.tools.descriptions(), trace.query, steps)
    assert trace.messages == training
    # What the model saw at each turn is the training conversation's prefix, byte for byte.
    assert backend.prompts[0] == training[:2] and backend.prompts[1] == training[:4]
    assert backend.prompts[2] == training[:6]
    tok_path = None
    try:
        from agentlab.models.pull import pulled_path
        tok_path = pulled_path('smollm2-135m')
    except Exception:
        pass
    if tok_path and (tok_path / 'tokenizer.json').exists():
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(tok_path)
        assert tok.apply_chat_template(trace.messages, tokenize=False) == \
            tok.apply_chat_template(training, tokenize=False)


def test_model_cannot_invent_tool_results():
    invented = (protocol.render_action('t', CALC, {'expression': '2+2'})
                + '\nResponse: {"result": 5}\nThought: done\nFinal Answer: 5')
    agent, backend = replay_agent([invented, protocol.render_finish('ok', '4')])
    trace = agent.run('2+2?')
    first = trace.steps[0]
    assert first.kind == 'call' and json.loads(first.observation)['result'] == 4
    assert 'Response: {"result": 5}' not in trace.messages[2]['content']
    assert trace.final_answer == '4'


def test_every_failure_becomes_an_observation():
    outputs = ['I think the answer is 4.',                                               # no action
               'Thought: t\nAction: Calculator\nAction Input: {not json',                  # invalid json
               protocol.render_action('t', 'Teleporter', {'to': 'Mars'}),                  # unknown tool
               protocol.render_action('t', CALC, {'expr': '1'}),                           # schema violation
               protocol.render_action('t', CALC, {'expression': '1/0'}),                   # tool raises
               protocol.render_finish('ok', 'done')]
    agent, _ = replay_agent(outputs, max_turns=6, parse_mode='strict')
    trace = agent.run('go')
    kinds = [(s.kind, s.error) for s in trace.steps]
    assert kinds == [('format_error', 'no_action'), ('args_error', 'invalid_json'), ('args_error', 'unknown_tool'),
                     ('args_error', 'invalid_arguments'), ('call', 'tool_error'), ('finish', None)]
    obs = [s.observation for s in trace.steps[:5]]
    assert obs[0] == 'Please follow the format' and obs[1].startswith('invalid json format')
    assert 'not a valid tool' in obs[2] and 'required property' in obs[3] and 'division by zero' in obs[4]
    # each observation went back to the model as a user-side Response turn
    responses = [m['content'] for m in trace.messages if m['role'] == 'user'][1:]
    assert responses == [protocol.render_response(o) for o in obs]


def test_tolerant_mode_recovers_and_records_the_rule():
    agent, _ = replay_agent(['Thought: t\nAction: Calculator\nAction Input: expression=6*7',
                             protocol.render_finish('ok', '42')])
    trace = agent.run('6*7?')
    assert trace.steps[0].kind == 'call' and trace.steps[0].recoveries == ['key_value']
    assert json.loads(trace.steps[0].observation)['result'] == 42


def test_max_turns_gives_lagents_answer():
    agent, _ = replay_agent(['no format'] * 3, max_turns=3)
    trace = agent.run('x')
    assert trace.status == 'max_turns' and trace.final_answer == protocol.DEFAULT_GIVE_UP
    assert [s.kind for s in trace.steps] == ['format_error'] * 3 + ['give_up']


def test_stream_yields_steps_as_they_happen_and_trace_serialises():
    agent, backend = replay_agent([protocol.render_action('t', CALC, {'expression': '1+1'}),
                                   protocol.render_finish('ok', '2')])
    seen = []
    for step in agent.stream('1+1?'):
        seen.append((step.kind, len(backend.prompts)))
    assert seen == [('call', 1), ('finish', 2)]
    data = json.loads(agent.last_trace.to_json())
    assert data['final_answer'] == '2' and data['steps'][0]['tool'] == CALC
    assert {'generation_seconds', 'tool_seconds', 'runtime_seconds', 'prompt_tokens'} <= set(data['steps'][0])


@pytest.mark.slow
def test_readme_python_example_runs():
    """The README's Python API example, executed as written, with the real embedded model."""
    readme = (REPO / 'README.md').read_text()
    block = re.search(r'<!-- python-api-example -->\s*```python\n(.*?)```', readme, re.S)
    assert block, 'README lost its Python API example'
    namespace: dict = {}
    exec(compile(block.group(1), 'README.md', 'exec'), namespace)
    trace = namespace['trace']
    assert trace.status in ('finished', 'max_turns') and trace.steps
    assert all(s.raw_output or s.kind == 'give_up' for s in trace.steps)
    json.loads(trace.to_json())


@pytest.mark.slow
def test_real_model_stops_at_the_response_marker(embedded_model):
    """In-process transformers: the stop words cut generation, and greedy output is reproducible."""
    from agentlab.runtime.backends import TransformersBackend
    backend = TransformersBackend(embedded_model, threads=1)
    msgs = [{'role': 'user', 'content': 'Repeat exactly: "Action: x\\nResponse: 1\\nResponse: 2"'}]
    cfg = GenerationConfig(max_new_tokens=40)
    a, b = backend.generate([msgs], cfg)[0], backend.generate([msgs], cfg)[0]
    assert a.text == b.text and 'Response:' not in a.text
    batch = backend.generate([msgs, [{'role': 'user', 'content': 'Say hi.'}]], cfg)
    assert len(batch) == 2 and all(g.completion_tokens > 0 for g in batch)


@pytest.mark.slow
def test_terminal_chat_shows_every_step():
    """`agentlab chat` as a user runs it: a question on stdin, each step printed, then exit on an empty line."""
    from conftest import run_cli
    res = run_cli('chat', '--model', 'smollm2-135m', '--tools', 'calculator', '--max-turns', '1',
                  '--max-new-tokens', '32', input_text='What is 2+2?\n\n')
    assert res.returncode == 0, res.stderr
    assert 'with tools: Calculator' in res.stdout
    assert ('Final Answer' in res.stdout or 'Observation' in res.stdout or 'Error (' in res.stdout)
    assert protocol.DEFAULT_GIVE_UP in res.stdout or 'Final Answer' in res.stdout
