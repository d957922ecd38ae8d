"""Tools: schema validation before anything runs, built-ins with real results, discovery, and the CLI."""

import http.server
import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from agentlab.errors import AgentlabError
from agentlab.tools import ToolBox, load_action
from agentlab.tools.builtin import CalculatorError, convert_units, safe_eval
from conftest import FIXTURES, run_cli


@pytest.fixture(scope='module')
def box():
    return ToolBox.from_spec(None)


def test_every_builtin_function_has_a_schema(box):
    assert set(box.names()) >= {'Calculator', 'PythonInterpreter', 'ArxivSearch.get_arxiv_article_information',
                                'KnowledgeBase.search', 'DateCalculator.days_between', 'UnitConverter'}
    for fn in box.functions.values():
        assert fn.schema['type'] == 'object' and fn.schema['additionalProperties'] is False
        assert set(fn.schema['required']) <= set(fn.schema['properties'])


@pytest.mark.parametrize('name,args,reason', [
    ('Calculator', {}, "'expression' is a required property"),
    ('Calculator', {'expression': 3}, "3 is not of type 'string'"),
    ('Calculator', {'expression': '1', 'extra': 1}, 'Additional properties'),
    ('UnitConverter', {'value': 'ten', 'from_unit': 'km', 'to_unit': 'mi'}, "value: 'ten' is not of type"),
    ('UnitConverter', {'value': 1, 'from_unit': 'parsec', 'to_unit': 'mi'}, "'parsec' is not one of"),
    ('KnowledgeBase.search', {'query': 'x', 'top_k': 50}, '50 is greater than the maximum of 5'),
    ('DateCalculator.add_days', {'date': '2024-01-01', 'days': 1.5}, "1.5 is not of type 'integer'"),
])
def test_invalid_arguments_never_reach_the_tool(box, name, args, reason):
    res = box.call(name, args)
    assert not res.ok and res.error == 'invalid_arguments' and reason in res.text


def test_calculator_is_not_eval():
    assert safe_eval('(3+4)*2^3') == 56 and safe_eval('sqrt(16) + factorial(5)') == 124
    for hostile in ('__import__("os").system("id")', '().__class__', 'open("/etc/passwd")', '9**9**9', 'x'):
        with pytest.raises(CalculatorError):
            safe_eval(hostile)


def test_dates_and_units_compute_real_answers(box):
    assert json.loads(box.call('DateCalculator.days_between', {'start': '2024-01-01', 'end': '2024-03-01'}).text) \
        == {'days': 60}
    assert json.loads(box.call('DateCalculator.add_days', {'date': '2024-02-28', 'days': 2}).text)['date'] \
        == '2024-03-01'
    assert convert_units(212, 'f', 'c') == 100.0 and convert_units(1, 'mi', 'km') == 1.609344
    res = box.call('UnitConverter', {'value': 1, 'from_unit': 'kg', 'to_unit': 'km'})
    assert not res.ok and res.error == 'tool_error' and 'cannot convert mass' in res.text


def test_knowledge_base_finds_the_passage(box, tmp_path, monkeypatch):
    res = box.call('KnowledgeBase.search', {'query': 'How many people does meeting room Aurora seat?'})
    top = json.loads(res.text)['results'][0]
    assert top['source'] == 'office.md' and '12 people' in top['text']
    (tmp_path / 'notes.md').write_text('北京是中国的首都。\n\nParis is the capital of France.')
    monkeypatch.setenv('AGENTLAB_KB_DIR', str(tmp_path))
    kb = ToolBox(['knowledge'])
    assert '北京' in json.loads(kb.call('KnowledgeBase.search', {'query': '中国的首都', 'top_k': 1}).text)['results'][0]['text']


def test_python_tool_runs_in_the_sandbox(box):
    res = box.call('PythonInterpreter', {'command': 'import os\ndef solution():\n    return os.getuid()'})
    assert res.ok
    from agentlab.tools.sandbox import isolation_report
    if isolation_report()['user'][0]:
        assert res.text == '65534'


class _ArxivHandler(http.server.BaseHTTPRequestHandler):
    """Speaks arXiv's Atom API (GET /api/query?search_query=...&start=...&max_results=...)."""
    requests: list = []

    def do_GET(self):
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        type(self).requests.append((url.path, params))
        body = (FIXTURES / 'arxiv_internlm2.xml').read_bytes()
        if url.path != '/api/query' or params.get('start', ['0'])[0] != '0':
            body = body.split(b'<entry>')[0] + b'</feed>'
        self.send_response(200)
        self.send_header('Content-Type', 'application/atom+xml; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def arxiv_server(monkeypatch):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _ArxivHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _ArxivHandler.requests = []
    monkeypatch.setenv('AGENTLAB_ARXIV_URL', f'http://127.0.0.1:{server.server_address[1]}/api/query')
    yield _ArxivHandler.requests
    server.shutdown()


def test_arxiv_search_uses_the_real_client(arxiv_server):
    res = ToolBox(['arxiv']).call('ArxivSearch.get_arxiv_article_information',
                                  {'query': 'InternLM2 Technical Report'})
    assert res.ok
    content = json.loads(res.text)['content']
    assert 'Title: InternLM2 Technical Report' in content and 'Authors: Zheng Cai, Maosong Cao' in content
    assert 'Published: 2024-03-26' in content and 'Agent-FLAN' in content
    path, params = arxiv_server[0]
    assert path == '/api/query' and params['search_query'] == ['InternLM2 Technical Report']


def test_arxiv_unreachable_is_an_observation_not_a_crash(monkeypatch):
    monkeypatch.setenv('AGENTLAB_ARXIV_URL', 'http://127.0.0.1:9/api/query')
    res = ToolBox(['arxiv']).call('ArxivSearch.get_arxiv_article_information', {'query': 'x'})
    assert not res.ok and res.error == 'tool_error'


def test_discovery_by_module_path_and_errors(tmp_path, monkeypatch):
    (tmp_path / 'my_tools.py').write_text(
        'from lagent.actions import BaseAction\n'
        'class Greeter(BaseAction):\n'
        '    """Greets people."""\n'
        '    def run(self, name: str):\n'
        '        """Greet someone.\n\n        Args:\n            name (str): who to greet\n        """\n'
        '        return f"Hello, {name}!"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    box = ToolBox.from_spec('calculator,my_tools:Greeter')
    assert box.call('Greeter', {'name': 'Ada'}).text == 'Hello, Ada!'
    with pytest.raises(AgentlabError, match='unknown tool'):
        load_action('nope')
    with pytest.raises(AgentlabError, match='cannot import tool module'):
        load_action('no_such_module_xyz:Tool')


def test_cli_tools_list_and_call():
    res = run_cli('tools', 'list', '--json')
    assert res.returncode == 0
    names = {r['name'] for r in json.loads(res.stdout)}
    assert 'ArxivSearch.get_arxiv_article_information' in names
    res = run_cli('tools', 'call', 'Calculator', '{"expression": "2**10"}')
    assert res.returncode == 0 and json.loads(json.loads(res.stdout)['result'])['result'] == 1024
    res = run_cli('tools', 'call', 'Calculator', '{"expr": "1"}')
    assert res.returncode == 1 and res.stderr.strip().startswith('agentlab: error: invalid arguments')
    res = run_cli('tools', 'call', 'Calculator', '{not json')
    assert res.returncode == 1 and 'not valid JSON' in res.stderr


def test_discovery_through_the_entry_point_group(tmp_path, monkeypatch):
    """A package that declares `[project.entry-points."agentlab.tools"]` is found by name."""
    pkg = tmp_path / 'weather_tools.py'
    pkg.write_text('from lagent.actions import BaseAction\n'
                   'class CityWeather(BaseAction):\n'
                   '    """Weather of a city."""\n'
                   '    def run(self, city: str):\n'
                   '        """Current weather.\n\n        Args:\n            city (str): city name\n        """\n'
                   '        return {"city": city, "sky": "clear"}\n')
    dist = tmp_path / 'weather_tools-1.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text('Metadata-Version: 2.1\nName: weather-tools\nVersion: 1.0\n')
    (dist / 'entry_points.txt').write_text('[agentlab.tools]\nweather = weather_tools:CityWeather\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    from agentlab.tools import available
    assert 'weather' in available()
    box = ToolBox.from_spec('weather')
    assert json.loads(box.call('CityWeather', {'city': 'Oslo'}).text) == {'city': 'Oslo', 'sky': 'clear'}
