"""Model specs: every --model accepts a registered name, a local HF folder, or an OpenAI-compatible endpoint."""

import pytest

from agentlab.errors import AgentlabError
from agentlab.models import parse_model_spec


def test_registered_name():
    spec = parse_model_spec('smollm2-135m')
    assert (spec.kind, spec.name, spec.base_url) == ('registered', 'smollm2-135m', None)


def test_local_folder(tmp_path):
    (tmp_path / 'merged').mkdir()
    (tmp_path / 'merged' / 'config.json').write_text('{}')
    spec = parse_model_spec(str(tmp_path / 'merged'))
    assert spec.kind == 'local' and spec.name == str((tmp_path / 'merged').resolve())
    assert spec.local_path(fetch=False) == tmp_path / 'merged'
    assert spec.label == f'{tmp_path.name}/merged'


@pytest.mark.parametrize('text,base,model', [
    ('http://127.0.0.1:23333/v1#internlm2', 'http://127.0.0.1:23333/v1', 'internlm2'),
    ('https://host.example:8443/v1/#/models/merged', 'https://host.example:8443/v1', '/models/merged'),
])
def test_endpoint(text, base, model, monkeypatch):
    monkeypatch.setenv('AGENTLAB_API_KEY', 'sk-test')
    spec = parse_model_spec(text)
    assert (spec.kind, spec.base_url, spec.name, spec.api_key) == ('endpoint', base, model, 'sk-test')
    monkeypatch.delenv('AGENTLAB_API_KEY')
    assert parse_model_spec(text).api_key is None
    with pytest.raises(AgentlabError, match='endpoint'):
        spec.local_path()


@pytest.mark.parametrize('text,message', [
    ('', 'empty model spec'),
    ('no-such-model', 'unknown model'),
    ('http://127.0.0.1:8000/v1', 'names no model'),
    ('http://127.0.0.1:8000/api#m', 'must end its URL with /v1'),
    ('http://127.0.0.1:notaport/v1#m', 'invalid port'),
    ('http:///v1#m', 'no host'),
])
def test_bad_specs_have_one_line_reasons(text, message):
    with pytest.raises(AgentlabError, match=message) as err:
        parse_model_spec(text)
    assert '\n' not in str(err.value)


def test_folder_without_config(tmp_path):
    with pytest.raises(AgentlabError, match='no config.json'):
        parse_model_spec(str(tmp_path))
    f = tmp_path / 'weights.bin'
    f.write_text('x')
    with pytest.raises(AgentlabError, match='is a file'):
        parse_model_spec(str(f))
    # A .gguf file is a model of its own kind; its contents are checked when it is read (tests/test_gguf.py).
    g = tmp_path / 'weights.gguf'
    g.write_text('x')
    assert parse_model_spec(str(g)).kind == 'gguf'
