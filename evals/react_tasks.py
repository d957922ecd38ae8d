"""`react:builtin`: agentlab's own held-out tasks over the built-in tools, run end to end with real tool execution.

The tasks live in `evals/data/react_builtin.jsonl`. Each has a question, the tools a correct solution calls (its
plan, with every call's real observation), and an expected answer. The questions and plans are written by hand in
this module (`PLANS`, below), independent of the data engine (`datasets_conv/synth.py`), which this module never
imports. Expected answers are never written by hand: `build_tasks()` executes every plan with the real tools and
reads the answer out of their results, and `tests/test_eval.py` executes the plans again to prove the file matches.
Regenerate the file with `python -m agentlab.evals.react_tasks`.

Two tools are pointed at held-out resources so the expected answers cannot drift and nothing leaks from training
data: the knowledge base searches `evals/data/react_kb/` (a fictional company's documents, not the default
`configs/knowledge`), and the arXiv tool, the real `arxiv` client, talks to a local stand-in of arXiv's Atom API
serving the 20 papers in `evals/data/arxiv_corpus.json` (the machine has no network, and live arXiv results change).

A run offers every built-in tool in every task and follows agentlab's runtime exactly (`agentlab.agent.Agent`'s
step logic: tool results as `Response:` turns, bad output as an observation, Lagent's give-up answer after the last
turn). Metrics: task success (the final answer holds the expected value), exec success (the model made at least one
call and every call ran without error), tool-name accuracy (the set of functions called equals the plan's),
hallucinated tools, strict/tolerant parse rates, mean steps.
"""

from __future__ import annotations

import calendar
import hashlib
import http.server
import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from agentlab import protocol
from agentlab.errors import AgentlabError
from agentlab.evals.episode import Episode, StepRecord, parse_step, transcript, usage
from agentlab.evals.metrics import rate_of
from agentlab.llms import GenerationConfig

DATA = Path(__file__).resolve().parent / 'data'
TASK_FILE = DATA / 'react_builtin.jsonl'
KB_DIR = DATA / 'react_kb'
ARXIV_CORPUS = DATA / 'arxiv_corpus.json'
TOOLS = ('calculator', 'python', 'dates', 'units', 'knowledge', 'arxiv')
FUNCTION_TOOL = {'Calculator': 'calculator', 'PythonInterpreter': 'python', 'DateCalculator.days_between': 'dates',
                 'DateCalculator.add_days': 'dates', 'DateCalculator.weekday': 'dates', 'UnitConverter': 'units',
                 'KnowledgeBase.search': 'knowledge', 'ArxivSearch.get_arxiv_article_information': 'arxiv'}
MAX_NEW_TOKENS = 128
MAX_STEPS = 5


# --- a local stand-in of arXiv's Atom API, over a fixed corpus ----------------------------------------------------

_WORD = re.compile(r'[a-z0-9]+')


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class OfflineArxiv:
    """Serves `GET /api/query?search_query=...&start=...&max_results=...` from a JSON corpus, ranked by tf-idf
    over title (weighted 3x), authors and summary; the real `arxiv` client reads its Atom feed."""

    def __init__(self, corpus: Path = ARXIV_CORPUS):
        self.papers = json.loads(corpus.read_text())
        docs = [_words(' '.join([p['title']] * 3 + p['authors'] + [p['summary']])) for p in self.papers]
        n = len(docs)
        df: dict[str, int] = {}
        for d in docs:
            for w in set(d):
                df[w] = df.get(w, 0) + 1
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.docs = docs
        self.server: http.server.ThreadingHTTPServer | None = None

    def search(self, query: str, start: int = 0, count: int = 3) -> list[dict]:
        q = set(_words(query))
        scored = []
        for i, d in enumerate(self.docs):
            score = sum(self.idf.get(w, 0.0) for w in d if w in q)
            if score > 0:
                scored.append((-score, self.papers[i]['id'], i))
        scored.sort()
        return [self.papers[i] for _, _, i in scored[start:start + count]]

    def atom(self, query: str, start: int, count: int) -> bytes:
        hits = self.search(query, start, count)
        entries = []
        for p in hits:
            authors = ''.join(f'<author><name>{escape(a)}</name></author>' for a in p['authors'])
            entries.append(
                f'<entry><id>http://arxiv.org/abs/{p["id"]}v1</id><updated>{p["published"]}T00:00:00Z</updated>'
                f'<published>{p["published"]}T00:00:00Z</published><title>{escape(p["title"])}</title>'
                f'<summary>{escape(p["summary"])}</summary>{authors}'
                f'<link href="http://arxiv.org/abs/{p["id"]}v1" rel="alternate" type="text/html"/>'
                f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{p["category"]}" '
                f'scheme="http://arxiv.org/schemas/atom"/><category term="{p["category"]}" '
                f'scheme="http://arxiv.org/schemas/atom"/></entry>')
        return ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f'<title>ArXiv Query: {escape(query)}</title><id>http://arxiv.org/api/offline</id>'
                '<updated>2025-01-01T00:00:00Z</updated>'
                f'<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(hits)}'
                '</opensearch:totalResults>'
                f'<opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}'
                '</opensearch:startIndex>'
                f'<opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{count}'
                '</opensearch:itemsPerPage>' + ''.join(entries) + '</feed>').encode()

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) in a daemon thread; returns the query URL."""
        if self.server is None:
            corpus = self

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    url = urlsplit(self.path)
                    params = parse_qs(url.query)
                    query = params.get('search_query', [''])[0]
                    start = int(params.get('start', ['0'])[0] or 0)
                    count = int(params.get('max_results', ['3'])[0] or 3)
                    body = corpus.atom(query, start, min(count, 10)) if url.path == '/api/query' else b''
                    self.send_response(200 if body else 404)
                    self.send_header('Content-Type', 'application/atom+xml; charset=utf-8')
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *args):
                    pass

            self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f'http://127.0.0.1:{self.server.server_address[1]}/api/query'

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


_ARXIV: OfflineArxiv | None = None
_ARXIV_LOCK = threading.Lock()


def offline_arxiv_url() -> str:
    global _ARXIV
    with _ARXIV_LOCK:
        if _ARXIV is None:
            _ARXIV = OfflineArxiv()
        return _ARXIV.start()


def make_toolbox():
    """Every built-in tool, with the knowledge base and arXiv pointed at the held-out resources."""
    from agentlab.tools import ToolBox
    from agentlab.tools.builtin import (ArxivSearchTool, Calculator, DateCalculator, KnowledgeBase, SandboxedPython,
                                        UnitConverter)
    return ToolBox([Calculator(), SandboxedPython(), DateCalculator(), UnitConverter(), KnowledgeBase(folder=KB_DIR),
                    ArxivSearchTool(endpoint=offline_arxiv_url())])


# --- answer checking ------------------------------------------------------------------------------------------

_NUMBER = re.compile(r'-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+')
_MONTHS = [calendar.month_name[i] for i in range(1, 13)]


def numbers_in(text: str) -> list[tuple[float, int]]:
    """(value, decimals written) for each number in a text; thousands separators allowed."""
    out = []
    for m in _NUMBER.finditer(text or ''):
        token = m.group(0).replace(',', '')
        try:
            value = float(token)
        except ValueError:
            continue
        decimals = len(token.split('.')[1].split('e')[0].split('E')[0]) if '.' in token else 0
        out.append((value, decimals))
    return out


def date_forms(iso: str) -> list[str]:
    import datetime as dt
    d = dt.date.fromisoformat(iso)
    month = _MONTHS[d.month - 1]
    return [iso, f'{month} {d.day}, {d.year}', f'{d.day} {month} {d.year}', f'{month} {d.day} {d.year}']


def _norm(text: str) -> str:
    return re.sub(r'\s+', ' ', (text or '').lower()).strip()


def answer_matches(answer: str | None, expected: Any, check: str) -> bool:
    """Whether a final answer holds the expected value.

    number: a number in the answer equals the expected one; a non-integer may be rounded to the decimals written,
    within 1% (8.05 and 8.0467 both match 8.04672; 8 matches 8.04672; 3 does not match 3.14159).
    date: the ISO date or a spelled-out form (March 26, 2024 / 26 March 2024). text: a case-insensitive substring.
    """
    if answer is None:
        return False
    if check == 'number':
        e = float(expected)
        for x, decimals in numbers_in(answer):
            if e.is_integer() and abs(e) < 1e15:
                if x == e:
                    return True
                continue
            if abs(x - e) <= max(0.5 * 10 ** -decimals, 1e-9) + 1e-12 and abs(x - e) <= 0.01 * abs(e) + 1e-12:
                return True
        return False
    if check == 'date':
        norm = _norm(answer)
        return any(_norm(f) in norm for f in date_forms(str(expected)))
    return _norm(str(expected)) in _norm(answer)


# --- plans: questions and the tool calls that answer them (written here by hand; answers come from the tools) -----

Obs = list[Any]       # the parsed observations of the plan's calls so far


@dataclass
class Plan:
    question: str
    calls: list[tuple[str, dict | Callable[[Obs], dict]]]
    answer: Callable[[Obs], Any]
    check: str = 'number'


def _calc(q: str, expr: str) -> Plan:
    return Plan(q, [('Calculator', {'expression': expr})], lambda o: o[0]['result'])


def _py(q: str, code: str, check: str = 'number') -> Plan:
    return Plan(q, [('PythonInterpreter', {'command': code})], lambda o: str(o[0]).strip(), check)


def _between(q: str, a: str, b: str) -> Plan:
    return Plan(q, [('DateCalculator.days_between', {'start': a, 'end': b})], lambda o: o[0]['days'])


def _add(q: str, d: str, n: int) -> Plan:
    return Plan(q, [('DateCalculator.add_days', {'date': d, 'days': n})], lambda o: o[0]['date'], 'date')


def _weekday(q: str, d: str) -> Plan:
    return Plan(q, [('DateCalculator.weekday', {'date': d})], lambda o: o[0]['weekday'], 'text')


def _units(q: str, v: float, a: str, b: str) -> Plan:
    return Plan(q, [('UnitConverter', {'value': v, 'from_unit': a, 'to_unit': b})], lambda o: o[0]['value'])


def _kb_text(obs: Any) -> str:
    return ' '.join(r['text'] for r in obs.get('results', []))


def _kb_find(pattern: str) -> Callable[[Any], str]:
    def find(obs: Any) -> str:
        m = re.search(pattern, _kb_text(obs))
        if not m:
            raise AgentlabError(f'knowledge base search result does not contain {pattern!r}')
        return m.group(1)
    return find


def _kb(q: str, query: str, pattern: str, check: str = 'number') -> Plan:
    find = _kb_find(pattern)
    return Plan(q, [('KnowledgeBase.search', {'query': query})], lambda o: find(o[0]), check)


def _paper(obs: Any) -> dict:
    """The first paper of an ArxivSearch result."""
    block = obs['content'].split('\n\n')[0]
    fields = dict(line.split(': ', 1) for line in block.splitlines() if ': ' in line)
    return {'published': fields['Published'], 'title': fields['Title'],
            'first_author': fields['Authors'].split(', ')[0]}


def _arxiv(q: str, title: str, what: str) -> Plan:
    check = {'first_author': 'text', 'published': 'date'}[what]
    return Plan(q, [('ArxivSearch.get_arxiv_article_information', {'query': title})],
                lambda o: _paper(o[0])[what], check)


ARXIV = 'ArxivSearch.get_arxiv_article_information'

PLANS: list[tuple[str, Plan]] = [
    # calculator
    ('calc-01', _calc('What is 17 * 23?', '17*23')),
    ('calc-02', _calc('What is 1234 + 5678?', '1234+5678')),
    ('calc-03', _calc('What is 987 - 654 + 321?', '987-654+321')),
    ('calc-04', _calc('What is 2 to the power of 12?', '2**12')),
    ('calc-05', _calc('What is the square root of 2 multiplied by 100?', 'sqrt(2)*100')),
    ('calc-06', _calc('Compute (15 + 27) * 3.', '(15+27)*3')),
    ('calc-07', _calc('What is 3.5 times 4.2?', '3.5*4.2')),
    ('calc-08', _calc('What is 7 cubed minus 5 cubed?', '7**3-5**3')),
    ('calc-09', _calc('How many hours are in 365 days? Compute 365 * 24.', '365*24')),
    ('calc-10', _calc('What is 15% of 240?', '240*0.15')),
    ('calc-11', _calc('What is 7 factorial?', 'factorial(7)')),
    ('calc-12', _calc('What is 99 multiplied by 101?', '99*101')),
    ('calc-13', _calc('What is the greatest common divisor of 84 and 126?', 'gcd(84, 126)')),
    ('calc-14', _calc('Divide 1000 by 8.', '1000/8')),
    ('calc-15', _calc('What is the natural logarithm of 10, to a few decimals?', 'log(10)')),
    ('calc-16', _calc('What is (48 + 72) / 5 - 3?', '(48+72)/5-3')),
    # python
    ('py-01', _py('Use Python to compute the sum of the squares of the integers from 1 to 50.',
                  'print(sum(i * i for i in range(1, 51)))')),
    ('py-02', _py('Use Python to count the prime numbers below 1000.',
                  'print(sum(1 for n in range(2, 1000) if all(n % d for d in range(2, int(n ** 0.5) + 1))))')),
    ('py-03', _py('Use Python to find the 20th Fibonacci number (the sequence starts 1, 1, 2, 3, ...).',
                  'a, b = 1, 1\nfor _ in range(18):\n    a, b = b, a + b\nprint(b)')),
    ('py-04', _py('Use Python to count the vowels in "the quick brown fox jumps over the lazy dog".',
                  'print(sum(c in "aeiou" for c in "the quick brown fox jumps over the lazy dog"))')),
    ('py-05', _py('Use Python to reverse the string "agentlab".', 'print("agentlab"[::-1])', 'text')),
    ('py-06', _py('Use Python to find the median of the numbers 5, 3, 9, 1, 7, 12, 4.',
                  'import statistics\nprint(statistics.median([5, 3, 9, 1, 7, 12, 4]))')),
    ('py-07', _py('Use Python to compute the sum of the digits of 2 to the power of 100.',
                  'print(sum(int(c) for c in str(2 ** 100)))')),
    ('py-08', _py('Use Python to find the largest prime factor of 13195.',
                  'n, f = 13195, 2\nwhile f * f <= n:\n    if n % f:\n        f += 1\n    else:\n        n //= f\n'
                  'print(n)')),
    ('py-09', _py('Use Python to find how many days February 2028 has.',
                  'import calendar\nprint(calendar.monthrange(2028, 2)[1])')),
    ('py-10', _py('Use Python to compute the 15th triangular number.', 'print(15 * 16 // 2)')),
    ('py-11', _py('Use Python to write 2024 in binary.', 'print(bin(2024)[2:])', 'text')),
    ('py-12', _py('Use Python to count the distinct letters in the word "mississippi".',
                  'print(len(set("mississippi")))')),
    ('py-13', _py('Use Python to compute 12 factorial.', 'import math\nprint(math.factorial(12))')),
    ('py-14', _py('Use Python to find the least common multiple of 4, 6 and 14.',
                  'import math\nprint(math.lcm(4, 6, 14))')),
    ('py-15', _py('Use Python to count the integers below 1000 that are divisible by 3 or by 5.',
                  'print(sum(1 for n in range(1, 1000) if n % 3 == 0 or n % 5 == 0))')),
    ('py-16', _py('Use Python to sort the words "pear apple fig banana" alphabetically and give the last one.',
                  'print(sorted("pear apple fig banana".split())[-1])', 'text')),
    # dates
    ('date-01', _between('How many days are there from 2024-01-01 to 2024-03-01?', '2024-01-01', '2024-03-01')),
    ('date-02', _between('How many days are there between 2023-06-15 and 2023-12-25?', '2023-06-15', '2023-12-25')),
    ('date-03', _between('How many days passed from 2000-01-01 to 2025-01-01?', '2000-01-01', '2025-01-01')),
    ('date-04', _between('How many days are there from 2024-02-10 to 2024-02-29?', '2024-02-10', '2024-02-29')),
    ('date-05', _between('How many days lie between 2019-11-03 and 2021-04-17?', '2019-11-03', '2021-04-17')),
    ('date-06', _between('Count the days from 2025-03-30 to 2025-10-26.', '2025-03-30', '2025-10-26')),
    ('date-07', _add('What date is 45 days after 2024-02-10?', '2024-02-10', 45)),
    ('date-08', _add('What date is 100 days after 2025-01-01?', '2025-01-01', 100)),
    ('date-09', _add('What date was 30 days before 2024-03-15?', '2024-03-15', -30)),
    ('date-10', _add('What is the date 365 days after 2023-07-04?', '2023-07-04', 365)),
    ('date-11', _add('What date is 1000 days after 2020-05-20?', '2020-05-20', 1000)),
    ('date-12', _weekday('What day of the week was 2000-01-01?', '2000-01-01')),
    ('date-13', _weekday('What weekday is 2024-12-25?', '2024-12-25')),
    ('date-14', _weekday('On what day of the week did 1969-07-20 fall?', '1969-07-20')),
    ('date-15', _weekday('What weekday was 2016-02-29?', '2016-02-29')),
    ('date-16', _weekday('Which day of the week is 2030-06-01?', '2030-06-01')),
    # units
    ('unit-01', _units('Convert 10 km to miles.', 10, 'km', 'mi')),
    ('unit-02', _units('What is 100 degrees Fahrenheit in Celsius?', 100, 'f', 'c')),
    ('unit-03', _units('Convert 5 pounds to kilograms.', 5, 'lb', 'kg')),
    ('unit-04', _units('How many litres are 2 US gallons?', 2, 'gal', 'l')),
    ('unit-05', _units('How many minutes are in 3.5 hours?', 3.5, 'h', 'min')),
    ('unit-06', _units('Convert 60 mph to km/h.', 60, 'mph', 'km/h')),
    ('unit-07', _units('How many feet is 180 cm?', 180, 'cm', 'ft')),
    ('unit-08', _units('What is 37 degrees Celsius in Fahrenheit?', 37, 'c', 'f')),
    ('unit-09', _units('Convert 500 grams to ounces.', 500, 'g', 'oz')),
    ('unit-10', _units('How many hours are in 2 weeks?', 2, 'week', 'h')),
    ('unit-11', _units('A marathon is 26.2 miles. How many kilometres is that?', 26.2, 'mi', 'km')),
    ('unit-12', _units('How many cups are 750 ml?', 750, 'ml', 'cup')),
    ('unit-13', _units('Convert 20 knots to km/h.', 20, 'kn', 'km/h')),
    ('unit-14', _units('What is 0 degrees Celsius in kelvin?', 0, 'c', 'k')),
    ('unit-15', _units('Convert 72 inches to metres.', 72, 'in', 'm')),
    ('unit-16', _units('How many yards are 400 metres?', 400, 'm', 'yd')),
    # knowledge (held-out documents of a fictional company)
    ('kb-01', _kb('How many people does the Northwind meeting room Zephyr seat?', 'meeting room Zephyr seats',
                  r'Zephyr seats (\d+)')),
    ('kb-02', _kb('How many people fit in the Northwind meeting room Cobalt?', 'meeting room Cobalt seats',
                  r'Cobalt seats (\d+)')),
    ('kb-03', _kb('What is the capacity of the Northwind meeting room Juniper?', 'meeting room Juniper seats',
                  r'Juniper seats (\d+)')),
    ('kb-04', _kb('How many days of paid leave do Northwind Robotics employees get per year?', 'days of paid leave',
                  r'receives (\d+) days of paid leave')),
    ('kb-05', _kb('How many spaces does the Northwind parking garage have?', 'parking garage spaces',
                  r'has (\d+) spaces')),
    ('kb-06', _kb('On what date is the annual Northwind hackathon?', 'annual hackathon date',
                  r'hackathon takes place on (\d{4}-\d\d-\d\d)', 'date')),
    ('kb-07', _kb('Every how many days must a Northwind security badge be renewed?', 'security badge renewed',
                  r'renewed every (\d+) days')),
    ('kb-08', _kb('Above what amount in euros do Northwind expense claims need a director\'s approval?',
                  'expense claims approval director', r'above (\d+) euros')),
    ('kb-09', _kb('On what date was Northwind Robotics founded?', 'Northwind Robotics founded',
                  r'founded on (\d{4}-\d\d-\d\d)', 'date')),
    ('kb-10', _kb('In which city was Northwind Robotics founded?', 'Northwind Robotics founded city',
                  r'founded on \S+ in (\w+)', 'text')),
    ('kb-11', _kb('How much does the Northwind Heron arm robot weigh, in kg?', 'Heron arm robot weighs',
                  r'Heron arm robot weighs (\d+) kg')),
    ('kb-12', _kb('How long can the Northwind Kestrel drone fly on one charge, in minutes?',
                  'Kestrel drone flight minutes charge', r'flies for (\d+) minutes')),
    ('kb-13', _kb('What is the range of the Northwind Osprey rover in km?', 'Osprey rover range',
                  r'range of (\d+) km')),
    ('kb-14', _kb('How loud is the Northwind Wren cleaning robot, in dB?', 'Wren cleaning robot noise level',
                  r'noise level of (\d+) dB')),
    ('kb-15', _kb('Who is the chief executive officer of Northwind Robotics?', 'chief executive officer',
                  r'officer of Northwind Robotics is ([A-Z]\w+ [A-Z]\w+)', 'text')),
    ('kb-16', _kb('Who is the head of research at Northwind Robotics?', 'head of research',
                  r'head of research at Northwind Robotics is ([A-Z]\w+ [A-Z]\w+)', 'text')),
    ('kb-17', _kb('Which internal extension reaches the Northwind support hotline?', 'support hotline extension',
                  r'extension (\d+)')),
    ('kb-18', _kb('At what time does the Northwind Lisbon office open?', 'Lisbon office opens',
                  r'opens at (\d\d:\d\d)', 'text')),
    # arXiv (the real client, against the offline corpus)
    ('arxiv-01', _arxiv('Who is the first author of the arXiv paper "Attention Is All You Need"?',
                        'Attention Is All You Need', 'first_author')),
    ('arxiv-02', _arxiv('Who is the first author of the arXiv paper "LoRA: Low-Rank Adaptation of Large Language '
                        'Models"?', 'LoRA: Low-Rank Adaptation of Large Language Models', 'first_author')),
    ('arxiv-03', _arxiv('Who wrote the arXiv paper "QLoRA: Efficient Finetuning of Quantized LLMs" (first author)?',
                        'QLoRA: Efficient Finetuning of Quantized LLMs', 'first_author')),
    ('arxiv-04', _arxiv('Who is the first author of the ReAct paper, "ReAct: Synergizing Reasoning and Acting in '
                        'Language Models"?', 'ReAct: Synergizing Reasoning and Acting in Language Models',
                        'first_author')),
    ('arxiv-05', _arxiv('Who is the first author of "Toolformer: Language Models Can Teach Themselves to Use '
                        'Tools" on arXiv?', 'Toolformer: Language Models Can Teach Themselves to Use Tools',
                        'first_author')),
    ('arxiv-06', _arxiv('Search arXiv: who is the first author of the Agent-FLAN paper?', 'Agent-FLAN agent tuning',
                        'first_author')),
    ('arxiv-07', _arxiv('Who is the first author of the "InternLM2 Technical Report"?', 'InternLM2 Technical Report',
                        'first_author')),
    ('arxiv-08', _arxiv('Who is the first author of the Gorilla paper "Gorilla: Large Language Model Connected '
                        'with Massive APIs"?', 'Gorilla: Large Language Model Connected with Massive APIs',
                        'first_author')),
    ('arxiv-09', _arxiv('When was "Deep Residual Learning for Image Recognition" published on arXiv?',
                        'Deep Residual Learning for Image Recognition', 'published')),
    ('arxiv-10', _arxiv('On what date was the arXiv paper "Adam: A Method for Stochastic Optimization" published?',
                        'Adam: A Method for Stochastic Optimization', 'published')),
    ('arxiv-11', _arxiv('When was "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models" '
                        'published on arXiv?', 'Chain-of-Thought Prompting Elicits Reasoning in Large Language '
                        'Models', 'published')),
    ('arxiv-12', _arxiv('On what date did "Language Models are Few-Shot Learners" appear on arXiv?',
                        'Language Models are Few-Shot Learners', 'published')),
    ('arxiv-13', _arxiv('When was the HumanEval paper "Evaluating Large Language Models Trained on Code" '
                        'published on arXiv?', 'Evaluating Large Language Models Trained on Code', 'published')),
    ('arxiv-14', _arxiv('When was the GSM8K paper "Training Verifiers to Solve Math Word Problems" published on '
                        'arXiv?', 'Training Verifiers to Solve Math Word Problems', 'published')),
    ('arxiv-15', _arxiv('When was "Measuring Massive Multitask Language Understanding" published on arXiv?',
                        'Measuring Massive Multitask Language Understanding', 'published')),
    ('arxiv-16', _arxiv('Who is the first author of the SmolLM2 paper on arXiv?', 'SmolLM2 small language model',
                        'first_author')),
    # multi-step: two or three calls, later arguments computed from earlier results
    ('multi-01', Plan('How many hours are there between 2024-01-01 and 2024-03-01? Find the days, then multiply '
                      'by 24.', [('DateCalculator.days_between', {'start': '2024-01-01', 'end': '2024-03-01'}),
                                 ('Calculator', lambda o: {'expression': f'{o[0]["days"]}*24'})],
                      lambda o: o[1]['result'])),
    ('multi-02', Plan('A runner covers 5 miles a day for 7 days. How many kilometres is that in total?',
                      [('UnitConverter', {'value': 5, 'from_unit': 'mi', 'to_unit': 'km'}),
                       ('Calculator', lambda o: {'expression': f'{o[0]["value"]}*7'})], lambda o: o[1]['result'])),
    ('multi-03', Plan('What is 12.5 * 8 kilograms expressed in pounds?',
                      [('Calculator', {'expression': '12.5*8'}),
                       ('UnitConverter', lambda o: {'value': o[0]['result'], 'from_unit': 'kg', 'to_unit': 'lb'})],
                      lambda o: o[1]['value'])),
    ('multi-04', Plan('How many weeks are there between 2024-03-01 and 2024-08-16?',
                      [('DateCalculator.days_between', {'start': '2024-03-01', 'end': '2024-08-16'}),
                       ('UnitConverter', lambda o: {'value': o[0]['days'], 'from_unit': 'day', 'to_unit': 'week'})],
                      lambda o: o[1]['value'])),
    ('multi-05', Plan('What weekday is 90 days after 2024-05-01? Find the date first, then its weekday.',
                      [('DateCalculator.add_days', {'date': '2024-05-01', 'days': 90}),
                       ('DateCalculator.weekday', lambda o: {'date': o[0]['date']})],
                      lambda o: o[1]['weekday'], 'text')),
    ('multi-06', Plan('The Northwind Kestrel drone has a top speed in km/h given in the product sheet. What is it '
                      'in mph?', [('KnowledgeBase.search', {'query': 'Kestrel drone top speed'}),
                                  ('UnitConverter', lambda o: {'value': float(_kb_find(r'top speed of (\d+) km/h')(
                                      o[0])), 'from_unit': 'km/h', 'to_unit': 'mph'})],
                      lambda o: o[1]['value'])),
    ('multi-07', Plan('How much do three Northwind Heron arm robots cost in euros?',
                      [('KnowledgeBase.search', {'query': 'Heron arm robot costs euros'}),
                       ('Calculator', lambda o: {'expression': _kb_find(r'costs (\d+) euros')(o[0]) + '*3'})],
                      lambda o: o[1]['result'])),
    ('multi-08', Plan('On what day of the week is the annual Northwind hackathon?',
                      [('KnowledgeBase.search', {'query': 'annual hackathon date'}),
                       ('DateCalculator.weekday', lambda o: {'date': _kb_find(
                           r'hackathon takes place on (\d{4}-\d\d-\d\d)')(o[0])})],
                      lambda o: o[1]['weekday'], 'text')),
    ('multi-09', Plan('How many days passed from the founding of Northwind Robotics to 2026-01-01?',
                      [('KnowledgeBase.search', {'query': 'Northwind Robotics founded'}),
                       ('DateCalculator.days_between', lambda o: {'start': _kb_find(
                           r'founded on (\d{4}-\d\d-\d\d)')(o[0]), 'end': '2026-01-01'})],
                      lambda o: o[1]['days'])),
    ('multi-10', Plan('What is the range of the Northwind Osprey rover in miles?',
                      [('KnowledgeBase.search', {'query': 'Osprey rover range'}),
                       ('UnitConverter', lambda o: {'value': float(_kb_find(r'range of (\d+) km')(o[0])),
                                                    'from_unit': 'km', 'to_unit': 'mi'})],
                      lambda o: o[1]['value'])),
    ('multi-11', Plan('How many people can sit in the Northwind meeting rooms Zephyr and Juniper together?',
                      [('KnowledgeBase.search', {'query': 'meeting room Zephyr seats'}),
                       ('KnowledgeBase.search', {'query': 'meeting room Juniper seats'}),
                       ('Calculator', lambda o: {'expression': _kb_find(r'Zephyr seats (\d+)')(o[0]) + '+'
                                                 + _kb_find(r'Juniper seats (\d+)')(o[1])})],
                      lambda o: o[2]['result'])),
    ('multi-12', Plan('How many days after the Northwind Osprey rover launch was the Kestrel drone launched?',
                      [('KnowledgeBase.search', {'query': 'Osprey rover launched'}),
                       ('KnowledgeBase.search', {'query': 'Kestrel drone launched'}),
                       ('DateCalculator.days_between', lambda o: {
                           'start': _kb_find(r'Osprey.*?launched on (\d{4}-\d\d-\d\d)')(o[0]),
                           'end': _kb_find(r'Kestrel.*?launched on (\d{4}-\d\d-\d\d)')(o[1])})],
                      lambda o: o[2]['days'])),
    ('multi-13', Plan('How many days passed between the arXiv publication of "Attention Is All You Need" and '
                      '"BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"?',
                      [(ARXIV, {'query': 'Attention Is All You Need'}),
                       (ARXIV, {'query': 'BERT: Pre-training of Deep Bidirectional Transformers for Language '
                                         'Understanding'}),
                       ('DateCalculator.days_between', lambda o: {'start': _paper(o[0])['published'],
                                                                  'end': _paper(o[1])['published']})],
                      lambda o: o[2]['days'])),
    ('multi-14', Plan('On what weekday was "LoRA: Low-Rank Adaptation of Large Language Models" published on arXiv?',
                      [(ARXIV, {'query': 'LoRA: Low-Rank Adaptation of Large Language Models'}),
                       ('DateCalculator.weekday', lambda o: {'date': _paper(o[0])['published']})],
                      lambda o: o[1]['weekday'], 'text')),
    ('multi-15', Plan('How many days after "ReAct: Synergizing Reasoning and Acting in Language Models" was '
                      '"Toolformer: Language Models Can Teach Themselves to Use Tools" published on arXiv?',
                      [(ARXIV, {'query': 'ReAct: Synergizing Reasoning and Acting in Language Models'}),
                       (ARXIV, {'query': 'Toolformer: Language Models Can Teach Themselves to Use Tools'}),
                       ('DateCalculator.days_between', lambda o: {'start': _paper(o[0])['published'],
                                                                  'end': _paper(o[1])['published']})],
                      lambda o: o[2]['days'])),
    ('multi-16', Plan('What date was 1000 days after "Llama 2: Open Foundation and Fine-Tuned Chat Models" was '
                      'published on arXiv?', [(ARXIV, {'query': 'Llama 2: Open Foundation and Fine-Tuned Chat Models'}),
                                              ('DateCalculator.add_days', lambda o: {
                                                  'date': _paper(o[0])['published'], 'days': 1000})],
                      lambda o: o[1]['date'], 'date')),
    ('multi-17', Plan('Use Python to count the primes below 200, then use the calculator to multiply that count '
                      'by 7.', [('PythonInterpreter', {'command': 'print(sum(1 for n in range(2, 200) if all(n % d '
                                                                  'for d in range(2, int(n ** 0.5) + 1))))'}),
                                ('Calculator', lambda o: {'expression': f'{str(o[0]).strip()}*7'})],
                      lambda o: o[1]['result'])),
    ('multi-18', Plan('Use Python to compute the sum of the integers from 1 to 100, then convert that many '
                      'metres to miles.', [('PythonInterpreter', {'command': 'print(sum(range(1, 101)))'}),
                                           ('UnitConverter', lambda o: {'value': float(str(o[0]).strip()),
                                                                        'from_unit': 'm', 'to_unit': 'mi'})],
                      lambda o: o[1]['value'])),
    ('multi-19', Plan('What is the temperature 98.6 degrees Fahrenheit in Celsius, plus 10 degrees?',
                      [('UnitConverter', {'value': 98.6, 'from_unit': 'f', 'to_unit': 'c'}),
                       ('Calculator', lambda o: {'expression': f'{o[0]["value"]}+10'})], lambda o: o[1]['result'])),
    ('multi-20', Plan('Use Python to find how many days the year 2028 has, then find the date that many days '
                      'after 2028-01-01.', [('PythonInterpreter', {'command': 'import calendar\nprint(366 if '
                                                                   'calendar.isleap(2028) else 365)'}),
                                            ('DateCalculator.add_days', lambda o: {'date': '2028-01-01',
                                                                                   'days': int(str(o[0]).strip())})],
                      lambda o: o[1]['date'], 'date')),
    ('multi-21', Plan('How many seconds are in the number of days between 2024-06-01 and 2024-06-11?',
                      [('DateCalculator.days_between', {'start': '2024-06-01', 'end': '2024-06-11'}),
                       ('UnitConverter', lambda o: {'value': o[0]['days'], 'from_unit': 'day', 'to_unit': 's'})],
                      lambda o: o[1]['value'])),
    ('multi-22', Plan('Convert 3 miles to metres and then divide by 400 to get the number of running-track laps.',
                      [('UnitConverter', {'value': 3, 'from_unit': 'mi', 'to_unit': 'm'}),
                       ('Calculator', lambda o: {'expression': f'{o[0]["value"]}/400'})], lambda o: o[1]['result'])),
    ('multi-23', Plan('How many paid leave days do three Northwind employees get per year in total?',
                      [('KnowledgeBase.search', {'query': 'days of paid leave'}),
                       ('Calculator', lambda o: {'expression': _kb_find(r'receives (\d+) days of paid leave')(o[0])
                                                 + '*3'})], lambda o: o[1]['result'])),
    ('multi-24', Plan('What date is 90 days after the Northwind Heron arm robot was launched?',
                      [('KnowledgeBase.search', {'query': 'Heron arm robot launched'}),
                       ('DateCalculator.add_days', lambda o: {'date': _kb_find(
                           r'Heron.*?launched on (\d{4}-\d\d-\d\d)')(o[0]), 'days': 90})],
                      lambda o: o[1]['date'], 'date')),
    ('multi-25', Plan('How many days passed between the arXiv publication of "Llama 2: Open Foundation and '
                      'Fine-Tuned Chat Models" and "InternLM2 Technical Report"?',
                      [(ARXIV, {'query': 'Llama 2: Open Foundation and Fine-Tuned Chat Models'}),
                       (ARXIV, {'query': 'InternLM2 Technical Report'}),
                       ('DateCalculator.days_between', lambda o: {'start': _paper(o[0])['published'],
                                                                  'end': _paper(o[1])['published']})],
                      lambda o: o[2]['days'])),
    ('multi-26', Plan('Use the calculator to compute 2 ** 16, then convert that many grams to kilograms.',
                      [('Calculator', {'expression': '2**16'}),
                       ('UnitConverter', lambda o: {'value': o[0]['result'], 'from_unit': 'g', 'to_unit': 'kg'})],
                      lambda o: o[1]['value'])),
]


# --- building the task file -----------------------------------------------------------------------------------

def _observation(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def execute_plan(plan: Plan, box) -> tuple[list[dict], Any]:
    """Run a plan's calls with the real tools; (the calls with their observations, the expected answer)."""
    obs: Obs = []
    calls = []
    for name, args in plan.calls:
        arguments = args(obs) if callable(args) else dict(args)
        result = box.call(name, arguments)
        if not result.ok:
            raise AgentlabError(f'plan call {name}({arguments}) failed: {result.text}')
        obs.append(_observation(result.text))
        calls.append({'name': name, 'arguments': arguments, 'observation': result.text})
    expected = plan.answer(obs)
    if isinstance(expected, float) and expected.is_integer():
        expected = int(expected)
    if plan.check == 'number':
        expected = float(expected) if not isinstance(expected, (int, float)) else expected
        if isinstance(expected, float) and expected.is_integer():
            expected = int(expected)
    return calls, expected


def build_tasks() -> list[dict]:
    """Every task, with its expected answer computed by running its plan's calls with the real tools.
    Ordered round-robin over the tools so that `--limit N` covers several tools."""
    box = make_toolbox()
    by_group: dict[str, list[dict]] = {}
    for task_id, plan in PLANS:
        calls, expected = execute_plan(plan, box)
        tools = sorted({FUNCTION_TOOL[c['name']] for c in calls})
        group = task_id.split('-')[0]
        by_group.setdefault(group, []).append({
            'id': task_id, 'question': plan.question, 'expected': expected, 'check': plan.check,
            'tools': tools, 'multi_step': len(calls) > 1, 'plan': calls})
    ordered = []
    groups = list(by_group.values())
    while any(groups):
        for g in groups:
            if g:
                ordered.append(g.pop(0))
    return ordered


def write_tasks(path: Path = TASK_FILE) -> Path:
    tasks = build_tasks()
    path.write_text(''.join(json.dumps(t, ensure_ascii=False) + '\n' for t in tasks), encoding='utf-8')
    return path


def load_tasks(path: Path = TASK_FILE) -> list[dict]:
    if not path.is_file():
        raise AgentlabError(f'no task file at {path}')
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]


# --- the suite ------------------------------------------------------------------------------------------------

@dataclass
class ReactSuite:
    source: str = 'builtin'
    parse_mode: protocol.ParseMode = 'tolerant'
    max_new_tokens: int = MAX_NEW_TOKENS
    max_steps: int = MAX_STEPS
    kind: str = 'react'
    _tasks: list[dict] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.path = TASK_FILE if self.source == 'builtin' else Path(self.source)
        self._tasks = load_tasks(self.path)
        self._box = None
        self._agent = None

    @property
    def name(self) -> str:
        return f'react:{self.source}'

    primary_metric = 'task_success'

    def generation(self) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens)

    def settings(self) -> dict:
        return {'max_new_tokens': self.max_new_tokens, 'max_steps': self.max_steps, 'parse_mode': self.parse_mode,
                'temperature': 0.0, 'stop': list(protocol.STOP_WORDS), 'tools': list(TOOLS)}

    def data_info(self) -> dict:
        info = {'file': self.path.name, 'file_sha256': hashlib.sha256(self.path.read_bytes()).hexdigest()}
        if self.source == 'builtin':
            kb = hashlib.sha256()
            for f in sorted(KB_DIR.glob('*.md')):
                kb.update(f.name.encode() + f.read_bytes())
            info['knowledge_sha256'] = kb.hexdigest()
            info['arxiv_corpus_sha256'] = hashlib.sha256(ARXIV_CORPUS.read_bytes()).hexdigest()
        return info

    def cases(self) -> list[dict]:
        return self._tasks

    def prompt_size(self, case: dict) -> int:
        return len(case['question'])

    def agent(self):
        """agentlab's runtime agent (its step logic runs each model turn; generation is done by the scheduler)."""
        if self._agent is None:
            from agentlab.agent import Agent
            self._box = make_toolbox()
            self._agent = Agent(backend=None, tools=self._box, max_turns=self.max_steps, parse_mode=self.parse_mode,
                                generation=self.generation())
        return self._agent

    def episode(self, case: dict) -> Episode:
        agent = self.agent()
        messages = agent.initial_messages(case['question'])
        offered = agent.tools.names()
        steps: list[StepRecord] = []
        final = None
        for turn in range(self.max_steps):
            gen = yield [dict(m) for m in messages]
            rec = parse_step(gen.text, self.parse_mode, gen)
            step = agent._step(turn, gen.text)          # the runtime's own parse + validate + execute
            rec.kind, rec.name, rec.arguments = step.kind, step.tool, step.arguments
            rec.observation, rec.error, rec.answer = step.observation, step.error, step.answer
            steps.append(rec)
            messages.append({'role': 'assistant', 'content': gen.text.rstrip()})
            if step.kind == 'finish':
                final = step.answer
                break
            messages.append({'role': 'user', 'content': protocol.render_response(step.observation or '')})
        return self.score(case, steps, final, offered)

    def score(self, case: dict, steps: list[StepRecord], final: str | None, offered: list[str]) -> dict:
        calls = [s for s in steps if s.name is not None and s.arguments is not None]
        gold = {c['name'] for c in case['plan']}
        verdict = {
            'correct': answer_matches(final, case['expected'], case['check']),
            'task_success': answer_matches(final, case['expected'], case['check']),
            'exec_success': bool(calls) and all(s.error is None for s in calls),
            'tool_name': {s.name for s in calls} == gold,
            'hallucinated_tool': any(s.name is not None and s.name not in offered for s in steps),
            'strict_parse': all(s.strict for s in steps), 'tolerant_parse': all(s.tolerant for s in steps),
            'finished': final is not None,
            'expected': case['expected'], 'final_answer': final,
        }
        record = {'id': case['id'], 'raw_output': transcript(steps), 'outputs': [s.output for s in steps],
                  'parsed_calls': [{'name': s.name, 'arguments': s.arguments} for s in calls],
                  'verdict': verdict, 'multi_step': case['multi_step'], 'tools': case['tools'],
                  'steps_detail': [s.to_dict() for s in steps]}
        record.update(usage(steps))
        return record

    def metrics(self, records: list[dict]) -> dict:
        v = [r['verdict'] for r in records]
        return {'task_success': rate_of(x['task_success'] for x in v),
                'exec_success': rate_of(x['exec_success'] for x in v),
                'tool_name_accuracy': rate_of(x['tool_name'] for x in v),
                'hallucinated_tool': rate_of(x['hallucinated_tool'] for x in v),
                'strict_parse': rate_of(x['strict_parse'] for x in v),
                'tolerant_parse': rate_of(x['tolerant_parse'] for x in v),
                'finished': rate_of(x['finished'] for x in v),
                'task_success_multi_step': rate_of(x['task_success'] for x, r in zip(v, records)
                                                   if r.get('multi_step'))}


if __name__ == '__main__':   # python -m agentlab.evals.react_tasks: regenerate the task file
    out = write_tasks()
    tasks = load_tasks(out)
    per_tool = {t: sum(t in task['tools'] for task in tasks) for t in TOOLS}
    multi = sum(task['multi_step'] for task in tasks)
    print(f'{out}: {len(tasks)} tasks, {multi} multi-step ({100 * multi / len(tasks):.0f}%), per tool {per_tool}')
