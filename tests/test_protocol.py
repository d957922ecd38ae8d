"""The ReAct protocol: byte parity with Lagent 0.2.4, render/parse round trips, Agent-FLAN-shaped conversations."""

import json

import pytest
from hypothesis import given, settings, strategies as st
from lagent.actions import ActionExecutor, ArxivSearch, BaseAction
from lagent.agents.react import (CALL_PROTOCOL_CN, CALL_PROTOCOL_EN, FORCE_STOP_PROMPT_CN, FORCE_STOP_PROMPT_EN,
                                 ReActProtocol)

from agentlab.runtime import protocol
from conftest import FIXTURES


class Calc(BaseAction):
    """Evaluate an arithmetic expression."""

    def run(self, expression: str, precision: int = 4):
        """Evaluate an arithmetic expression.

        Args:
            expression (str): the expression, e.g. 2*(3+4)
            precision (int): digits after the point
        """
        return expression


def test_prompt_text_is_lagents():
    assert protocol.CALL_PROTOCOL_EN == CALL_PROTOCOL_EN
    assert protocol.CALL_PROTOCOL_CN == CALL_PROTOCOL_CN
    assert protocol.FORCE_STOP_PROMPT_EN == FORCE_STOP_PROMPT_EN
    assert protocol.FORCE_STOP_PROMPT_CN == FORCE_STOP_PROMPT_CN


@pytest.mark.parametrize('lang,call_protocol', [('en', CALL_PROTOCOL_EN), ('zh', CALL_PROTOCOL_CN)])
def test_system_prompt_byte_identical_to_lagent(lang, call_protocol):
    calc = Calc()
    executor = ActionExecutor([calc])
    lagent_system = ReActProtocol(call_protocol=call_protocol).format([], [], executor)[0]['content']
    assert protocol.render_system([calc.description], lang=lang) == lagent_system


def test_toolkit_descriptions_keep_dotted_names():
    executor = ActionExecutor([ArxivSearch()])
    descs = executor.get_actions_info()
    text = protocol.render_system(descs)
    assert "'name': 'ArxivSearch.get_arxiv_article_information'" in text
    assert "should be one of [['ArxivSearch.get_arxiv_article_information']]" in text


def test_json_schema_functions_become_lagent_descriptions():
    fn = {'name': 'math.factorial', 'description': 'Factorial.',
          'parameters': {'type': 'dict', 'properties': {'number': {'type': 'integer', 'description': 'n'},
                                                        'mode': {'type': 'string', 'enum': ['a', 'b']}},
                         'required': ['number']}}
    desc = protocol.tool_description(fn)
    assert desc['name'] == 'math.factorial'
    assert desc['parameters'][0] == {'name': 'number', 'type': 'NUMBER', 'description': 'n'}
    assert desc['parameters'][1]['enum'] == ['a', 'b']
    assert desc['required'] == ['number']
    assert desc['parameter_description'] == protocol.JSON_PARAMETER_DESCRIPTION
    wrapped = protocol.tool_description({'type': 'function', 'function': fn})
    assert wrapped == desc


LAGENT_CASES = [
    'Thought: I need the tool\nAction: Calc\nAction Input: {"expression": "1+2"}',
    'Thought: done\nFinal Answer: 3',
    'Action: Calculator\nAction Input: {"expression": "1+2"}\nResponse: 3\nFinal Answer: 3',
    'just prose, no format',
    'Thought: x\nAction: Calculator',
    'Thought: x\nAction: Calculator\nAction Input: "{\\"a\\": 1}"',
    'Thought: a\nAction: A\nAction Input: {}\nThought: b\nAction: B\nAction Input: {"x": 1}',
    'Action: Calculator Action Input: {"expression": "1"}',
]


@pytest.mark.parametrize('text', LAGENT_CASES)
def test_strict_parse_agrees_with_lagent(text):
    executor = ActionExecutor([Calc()])
    thought, action, action_input = ReActProtocol().parse(text, executor)
    parsed = protocol.parse(text, 'strict')
    assert parsed.thought == thought.strip()
    if action == executor.finish_action.name:
        assert parsed.kind == 'finish' and parsed.answer == action_input.strip()
    elif action == executor.no_action.name:
        assert parsed.kind == 'none'
    else:
        assert parsed.kind == 'call' and parsed.name == action and parsed.raw_arguments == action_input


def test_strict_rejects_what_lagents_json_parser_rejects():
    parsed = protocol.parse('Thought: t\nAction: ArxivSearch\nAction Input: query=InternLM2 Technical Report')
    assert parsed.kind == 'call' and parsed.arguments is None
    assert parsed.error.startswith('invalid json format')
    fenced = protocol.parse('Action: A\nAction Input: ```json\n{"q": 1}\n```')
    assert fenced.arguments == {'q': 1} and fenced.recoveries == ()


@pytest.mark.parametrize('name', ['ArxivSearch.get_arxiv_article_information', 'math.factorial', 'get_weather'])
def test_action_round_trip(name):
    args = {'query': 'InternLM2 Technical Report', 'n': 3, 'nested': {'a': [1, 2.5, None, True]}, 'zh': '北京'}
    text = protocol.render_action('I should search.', name, args)
    parsed = protocol.parse(text, 'strict')
    assert (parsed.kind, parsed.name, parsed.arguments, parsed.thought) == ('call', name, args, 'I should search.')
    finish = protocol.parse(protocol.render_finish('I know it.', 'Paris'), 'strict')
    assert (finish.kind, finish.answer, finish.thought) == ('finish', 'Paris', 'I know it.')


def test_response_turn_is_lagents():
    from lagent.schema import ActionReturn
    ret = ActionReturn(args={}, result=[{'type': 'text', 'content': '{"temp": 21}'}])
    lagent_turn = ReActProtocol().format_response(ret)['content']
    assert protocol.render_response('{"temp": 21}') == lagent_turn
    assert protocol.observation_text({'temp': 21}) == '{"temp": 21}'


def test_agent_flan_shaped_conversation_round_trip():
    """Every assistant turn of an Agent-FLAN react row parses back to what it says; tool results are user turns."""
    rows = [json.loads(line) for line in (FIXTURES / 'agent_flan_react.jsonl').read_text().splitlines()]
    assert rows
    for row in rows:
        conv = row['conversation']
        assert conv[0]['role'] == 'system' and conv[0]['content'].endswith(('Begin!', '开始!'))
        for prev, turn in zip(conv, conv[1:]):
            if turn['role'] != 'assistant':
                continue
            parsed = protocol.parse(turn['content'], 'strict')
            assert parsed.ok, turn['content']
            if parsed.kind == 'call':
                again = protocol.render_action(parsed.thought, parsed.name, parsed.arguments)
                assert protocol.parse(again) == parsed
        responses = [t for t in conv if t['content'].startswith(protocol.RESPONSE)]
        assert responses and all(t['role'] == 'user' for t in responses)


def test_render_messages_matches_agent_flan_layout():
    steps = [protocol.Step('search it', 'ArxivSearch.get_arxiv_article_information', {'query': 'x'}, 'Title: X'),
             protocol.Step('found it', answer='X')]
    msgs = protocol.render_messages([ArxivSearch().description['api_list'][0] | {
        'name': 'ArxivSearch.get_arxiv_article_information'}], 'find x', steps)
    assert [m['role'] for m in msgs] == ['system', 'user', 'assistant', 'user', 'assistant']
    assert msgs[3]['content'] == 'Response:Title: X\n'
    assert protocol.parse(msgs[2]['content']).name == 'ArxivSearch.get_arxiv_article_information'


@settings(max_examples=2000, deadline=None)
@given(st.text())
def test_parse_never_raises(text):
    for mode in ('strict', 'tolerant'):
        parsed = protocol.parse(text, mode)
        assert parsed.kind in ('call', 'finish', 'none')


# --- tolerant mode --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text,name,args,rules', [
    ('Thought: t\nAction: ArxivSearch\nAction Input: query=InternLM2 Technical Report',
     'ArxivSearch', {'query': 'InternLM2 Technical Report'}, ['key_value']),
    ('Action: calc\nAction Input: a=1, b="two words"', 'calc', {'a': 1, 'b': 'two words'}, ['key_value']),
    ('Action: f\nAction Input: ```\n{"x": 1}\n```', 'f', {'x': 1}, ['code_fence']),
    ("Action: f\nAction Input: {'x': 'single', 'ok': True, 'n': None}", 'f', {'x': 'single', 'ok': True, 'n': None},
     ['python_literal']),
    ('Action: f\nAction Input: {"x": 1} I hope this helps!', 'f', {'x': 1}, ['trailing_text']),
    ('Action: f\nAction Input: {"x": 1}\n\nThis calls f.', 'f', {'x': 1}, ['trailing_text']),
    ('Action: math.factorial Action Input: {"n": 5}', 'math.factorial', {'n': 5}, ['missing_newline']),
    ('Thought: x\nAction: `get_weather`\nAction Input: {"city": "Paris"}', 'get_weather', {'city': 'Paris'},
     ['tool_name_cleaned']),
])
def test_tolerant_recoveries_name_their_rule(text, name, args, rules):
    strict = protocol.parse(text, 'strict')
    assert not strict.ok or strict.name != name   # strict mode would not run this call
    tolerant = protocol.parse(text, 'tolerant')
    assert tolerant.ok and tolerant.name == name and tolerant.arguments == args
    assert list(tolerant.recoveries) == rules


def test_tolerant_leaves_valid_output_alone_and_prose_unparsed():
    valid = protocol.render_action('t', 'f', {'x': 1})
    assert protocol.parse(valid, 'tolerant') == protocol.parse(valid, 'strict')
    prose = protocol.parse('The capital of France is Paris.', 'tolerant')
    assert prose.kind == 'none' and prose.recoveries == ()


@settings(max_examples=10_000, deadline=None)
@given(st.one_of(
    st.text(),
    st.builds(lambda a, b, c: f'{a}Action:{b}\nAction Input:{c}', st.text(max_size=30), st.text(max_size=30),
              st.text(max_size=60)),
    st.builds(lambda a, b: f'Thought:{a}\nAction: f\nAction Input: {{{b}', st.text(max_size=20),
              st.text(alphabet='{}[]"\':,=\\ ab1', max_size=60)),
))
def test_tolerant_parse_never_raises(text):
    parsed = protocol.parse(text, 'tolerant')
    assert parsed.kind in ('call', 'finish', 'none')
    if parsed.kind == 'call' and parsed.error is None:
        assert isinstance(parsed.arguments, dict)
