"""The data engine's tool catalog: breadth (tested, not claimed), schema validity, value generators and phrasings,
the template mini-language, formulas, and the benchmark staying unseen (no BFCL function name in the catalog)."""

import json
import random
import re
from collections import Counter
from importlib.util import find_spec

import jsonschema
import pytest

from agentlab.datasets_conv.synth import catalog as C
from agentlab.datasets_conv.synth import functions as F
from agentlab.datasets_conv.synth import schemas as SC
from agentlab.datasets_conv.synth import formula
from agentlab.datasets_conv.synth import values as V
from agentlab.errors import AgentlabError


@pytest.fixture(scope='module')
def functions():
    return C.load_catalog()


@pytest.fixture(scope='module')
def raw_entries():
    """The catalog files as written (to check what the authors declared, not what the loader inferred)."""
    out = []
    for path in sorted(C.catalog_dir().glob('*.json')):
        if path.name not in C.RESERVED_FILES:
            data = json.loads(path.read_text(encoding='utf-8'))
            out += [(data['domain'], e) for e in data['functions']]
    return out


def _kinds(schema: dict) -> set[str]:
    kind = schema.get('type')
    kinds = set(kind) if isinstance(kind, list) else {kind}
    return {'number'} if 'number' in kinds else kinds


# --- breadth ----------------------------------------------------------------------------------------------------

def test_catalog_is_broad(functions):
    domains = Counter(f.domain for f in functions)
    assert len(functions) >= 300
    assert len(domains) >= 20
    assert min(domains.values()) >= 10, domains
    three_plus = [f for f in functions if len(f.params) >= 3]
    assert len(three_plus) >= len(functions) / 4
    structured = [f for f in functions if any(_kinds(p) & {'array', 'object'} for p in f.params.values())]
    assert len(structured) >= 30


def test_every_parameter_kind_is_covered(functions):
    params = [p for f in functions for p in f.params.values()]
    kinds = Counter(k for p in params for k in _kinds(p))
    for kind in ('string', 'integer', 'number', 'boolean', 'array', 'object'):
        assert kinds[kind] >= 5, (kind, kinds)
    assert sum('enum' in p for p in params) >= 30
    assert sum('default' in p for p in params) >= 30
    optional = [f for f in functions if set(f.params) - set(f.required)]
    assert len(optional) >= len(functions) / 2


def test_names_and_signatures_are_unique(functions):
    names = [f.name for f in functions]
    assert len(names) == len(set(names))
    folded = [re.sub(r'[^a-z0-9]', '', n.lower()) for n in names]
    assert len(folded) == len(set(folded)), 'two names differ only in case or separators'
    signatures = [json.dumps([f.description, f.params, f.required], sort_keys=True) for f in functions]
    assert len(signatures) == len(set(signatures)), 'two functions have the same description and parameters'
    shapes = Counter(json.dumps(sorted((n, sorted(_kinds(p))) for n, p in f.params.items())) + f.domain
                     for f in functions)
    assert max(shapes.values()) <= 3, shapes.most_common(3)


# --- schemas, generators, phrasings -----------------------------------------------------------------------------

def test_schemas_are_valid_json_schema_with_descriptions(raw_entries):
    for domain, entry in raw_entries:
        params = entry['parameters']
        jsonschema.Draft7Validator.check_schema(params)
        assert params['type'] == 'object'
        assert set(params.get('required', [])) <= set(params['properties']), entry['name']
        assert entry['description'].strip().endswith('.'), entry['name']
        for pname, p in params['properties'].items():
            assert p.get('description'), f'{entry["name"]}.{pname}'
            assert p['type'] in SC.JSON_TYPES, f'{entry["name"]}.{pname}'
            if 'default' in p:
                assert pname not in params.get('required', [])
                assert not list(jsonschema.Draft7Validator(SC.normalize_schema(p)).iter_errors(p['default']))


def test_every_function_has_generators_and_three_phrasings(raw_entries):
    for domain, entry in raw_entries:
        # A parameter has its own generator, or every phrasing builds it from generated slots ("args").
        derived = [set(r.get('args', {})) if isinstance(r, dict) else set() for r in entry['requests']]
        for pname in entry['parameters']['properties']:
            assert pname in entry['values'] or all(pname in d for d in derived), f'{entry["name"]}.{pname}'
        assert len(entry['requests']) >= 3, entry['name']
        assert 'result' in entry or 'compute' in entry, entry['name']


def test_drawn_arguments_fit_the_schema_and_the_text_states_them(functions):
    rng = random.Random(7)
    stated = checked = 0
    for fn in functions:
        for _ in range(25):
            d = fn.draw(rng)
            assert fn.validate(d.arguments) is None, (fn.name, d.arguments, fn.validate(d.arguments))
            assert set(fn.required) <= set(d.arguments), (fn.name, d.text)
            assert not re.search(r'\{[A-Za-z_][\w.]*(\?[^}]*)?\}', d.text), d.text          # no unfilled slot
            assert d.text.count('[') == d.text.count(']'), d.text                         # no stray segment
            assert d.text == d.text.strip() and '  ' not in d.text, d.text
            # Plain string values are copied into the request verbatim (faithful extraction, not guessing).
            for name, value in d.arguments.items():
                v = d.values.get(name)
                if isinstance(value, str) and v is not None and v.kind == 'str' and not v.says:
                    checked += 1
                    stated += value in d.text
    assert checked > 1000 and stated == checked


def test_optional_parameters_appear_only_when_the_request_mentions_them(functions):
    rng = random.Random(3)
    fn = next(f for f in functions if f.name == 'geometry.rectangle_area')
    seen = set()
    for _ in range(200):
        d = fn.draw(rng)
        if 'unit' in d.arguments:
            assert d.arguments['unit'] in d.text
            seen.add('with')
        else:
            assert not any(u in d.text.split() for u in ('cm', 'mm', 'ft', 'in', 'm')), d.text
            seen.add('without')
    assert seen == {'with', 'without'}


def test_values_are_stated_in_varied_forms():
    rng = random.Random(1)
    date = V.Val('2024-03-05', 'date')
    assert {V.say(date, rng) for _ in range(200)} >= {'2024-03-05', 'March 5, 2024', '5 March 2024'}
    small = V.Val(12, 'int')
    assert {V.say(small, rng) for _ in range(200)} == {'12', 'twelve'}
    big = V.Val(12000, 'int')
    assert {V.say(big, rng) for _ in range(200)} == {'12000', '12,000'}
    cities = V.Val(['Paris', 'Rome', 'Oslo'], 'list', items=[V.Val(c, 'str') for c in ('Paris', 'Rome', 'Oslo')])
    assert V.say(cities, rng) == 'Paris, Rome and Oslo'
    unit = V._literal_val({'value': 'km', 'say': ['kilometers']})
    assert V.say(unit, rng) == 'kilometers' and unit.value == 'km'
    assert V.say(date, rng, 'zh') in ('2024年3月5日', '2024-03-05')


def test_results_are_plausible_and_formulas_are_real(functions):
    rng = random.Random(5)
    by_name = {f.name: f for f in functions}
    for fn in functions:
        ok = 0
        for _ in range(10):
            d = fn.draw(rng)
            try:
                result = fn.fake_result(d, rng)
            except F.Unusable:
                continue
            ok += 1
            assert isinstance(result, dict) and result
            json.dumps(result)
        assert ok >= 4, fn.name
    gcd = by_name['arith.greatest_common_divisor']
    d = F.Draw(gcd, '', {'first': 12, 'second': 18}, {})
    assert gcd.fake_result(d, rng) == {'gcd': 6}
    element = by_name['chem.element_info']
    d = F.Draw(element, '', {'element': 'iron'}, {})
    assert element.fake_result(d, rng)['atomic_number'] == 26


# --- the mini-language ------------------------------------------------------------------------------------------

def test_template_optional_segments_booleans_fields_and_literal_braces():
    rng = random.Random(0)
    tpl = V.compile_template('Book {hotel}[ for {nights} nights][{breakfast?, with breakfast|, room only}].')
    vals = {'hotel': V.Val('Seaside Inn', 'str'), 'nights': V.Val(3, 'int'), 'breakfast': V.Val(True, 'bool')}
    assert tpl.render(vals, {'nights', 'breakfast'}, rng) in ('Book Seaside Inn for 3 nights, with breakfast.',
                                                               'Book Seaside Inn for three nights, with breakfast.')
    assert tpl.render(vals, set(), rng) == 'Book Seaside Inn.'
    assert tpl.names(optional_only=True) == {'nights', 'breakfast'}
    assert tpl.names(required_only=True) == {'hotel'}
    addr = V.Val({'city': 'Oslo', 'zip': '0150'}, 'object')
    assert V.compile_template('Ship to {to.city} {to.zip}').render({'to': addr}, None, rng) == 'Ship to Oslo 0150'
    raw = V.compile_template('[{{"dish": "{d}", "n": {n}}}]', segments=False)
    assert json.loads(raw.render_raw({'d': 'ramen', 'n': 2})) == [{'dish': 'ramen', 'n': 2}]
    with pytest.raises(AgentlabError):
        V.compile_template('unbalanced [segment')
    with pytest.raises(AgentlabError):
        V.compile_template('a stray } brace')


@pytest.mark.parametrize('spec', ['int:5..1', 'float:a..b', 'pool:no_such_pool', 'date:2020', 'wat', {'x': 1}])
def test_bad_value_specs_are_one_line_errors(spec):
    with pytest.raises(AgentlabError) as err:
        V.compile_gen(spec, C.pools())
    assert '\n' not in str(err.value)


def test_formulas_compute_and_refuse_code():
    assert formula.evaluate('0.5 * base * height', {'base': 10, 'height': 5}) == 25.0
    assert formula.evaluate("'a' if x > 1 and y < 2 else 'b'", {'x': 2, 'y': 1}) == 'a'
    assert formula.evaluate('mean(xs)', {'xs': [1, 2, 3]}) == 2
    assert formula.evaluate("add_days(d, 30)", {'d': '2024-01-01'}) == '2024-01-31'
    for bad in ("__import__('os').system('true')", 'x.__class__', '[y for y in xs]', '2 ** 10 ** 9',
                'open("/etc/passwd")', 'lambda: 1'):
        with pytest.raises(formula.FormulaError):
            formula.evaluate(bad, {'x': 1, 'xs': [1]})


def test_purpose_of_descriptions():
    assert F.purpose_of('Calculate the area of a rectangle from its length and width.') == \
        'calculate the area of a rectangle from its length and width'
    assert F.purpose_of('Returns the prime factorization of a positive integer.') == \
        'get the prime factorization of a positive integer'
    assert F.purpose_of('The day of the week of a date.') == 'get the day of the week of a date'
    assert F.purpose_of('Renew a loan for some weeks.') == 'renew a loan for some weeks'
    assert F.purpose_of('Book a hotel room for given dates.') == 'book a hotel room'


# --- malformed catalogs fail with one clear line ---------------------------------------------------------------

GOOD = {'name': 'demo.tool', 'description': 'Do a demo thing.',
        'parameters': {'type': 'object', 'properties': {'n': {'type': 'integer', 'description': 'a number'}},
                       'required': ['n']},
        'values': {'n': 'int:1..9'}, 'requests': ['Demo {n}.', 'Do {n}.', 'Run the demo with {n}.'],
        'result': {'ok': 'bool'}}


@pytest.mark.parametrize('patch,message', [
    ({'name': 'bad name!'}, 'bad function name'),
    ({'description': ''}, 'no description'),
    ({'parameters': {'type': 'object', 'properties': {}, 'required': ['n']}}, 'not in properties'),
    ({'requests': ['Demo.', 'Do {n}.', 'Run {n}.']}, "does not state 'n'"),
    ({'requests': ['Demo {n} {m}.', 'Do {n}.', 'Run {n}.']}, 'no value generator'),
    ({'values': {'n': 'int:9..1'}}, 'LO > HI'),
    ({'compute': {'x': 'n.real'}}, 'not allowed'),
    ({'compute': {'x': 'n + ghost'}}, 'unknown ghost'),
])
def test_malformed_entries_fail_with_one_line(patch, message):
    entry = {**GOOD, **patch}
    with pytest.raises(AgentlabError) as err:
        fn = C.function_from_entry(entry, 'demo')
        fn.fake_result(fn.draw(random.Random(0)), random.Random(0))
    assert message in str(err.value) and '\n' not in str(err.value)


def test_schema_file_errors(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"functions": [', encoding='utf-8')
    with pytest.raises(AgentlabError, match='not valid JSON'):
        C.load_tools(str(bad))
    with pytest.raises(AgentlabError, match='no such file'):
        C.load_tools(str(tmp_path / 'missing.json'))
    with pytest.raises(AgentlabError, match='unknown tool source'):
        C.load_tools('builtin,nonsense')
    (tmp_path / 'noname.json').write_text('[{"description": "x"}]', encoding='utf-8')
    with pytest.raises(AgentlabError, match='needs a "name"'):
        C.load_tools(str(tmp_path / 'noname.json'))


# --- the benchmark stays unseen --------------------------------------------------------------------------------

def bfcl_function_names() -> set[str]:
    from agentlab.evals.suites.bfcl_official import data_dir
    names = set()
    for path in sorted(data_dir().glob('BFCL_v4_*.json')):
        for line in path.read_text(encoding='utf-8').splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:       # one file of the package is a single JSON document, not lines
                continue
            for fn in (row.get('function') or []) if isinstance(row, dict) else []:
                if isinstance(fn, dict) and 'name' in fn:
                    names.add(fn['name'])
    return names


@pytest.mark.skipif(find_spec('bfcl_eval') is None, reason='bfcl-eval is not installed')
def test_no_catalog_name_is_a_bfcl_name(functions):
    bfcl = bfcl_function_names()
    assert len(bfcl) > 1000
    ours = {f.name for f in functions} | {f.name for f in C.load_builtin()}
    assert not ours & bfcl
    fold = lambda n: re.sub(r'[^a-z0-9]', '', n.lower())   # noqa: E731
    assert not {fold(n) for n in ours} & {fold(n) for n in bfcl}
