"""Backends: stop-word cutting, replay, and clear errors for endpoints."""

import pytest

from agentlab.errors import AgentlabError
from agentlab.runtime.backends import GenerationConfig, ReplayBackend, cut_at_stop, make_backend


def test_cut_at_earliest_stop_word():
    assert cut_at_stop('a\nResponse: b\nResponse: c', ('\nResponse:', 'Response:')) == ('a', True)
    assert cut_at_stop('no stop here', ('Response:',)) == ('no stop here', False)


def test_replay_backend_records_prompts_and_runs_out_loudly():
    backend = ReplayBackend(['one', 'two Response: x'], cycle=False)
    gens = backend.generate([[{'role': 'user', 'content': 'a'}], [{'role': 'user', 'content': 'b'}]],
                            GenerationConfig())
    assert [g.text for g in gens] == ['one', 'two '] and gens[1].finish_reason == 'stop_word'
    assert backend.prompts[1] == [{'role': 'user', 'content': 'b'}]
    with pytest.raises(AgentlabError, match='ran out'):
        backend.generate([[{'role': 'user', 'content': 'c'}]], GenerationConfig())


def test_unreachable_endpoint_is_a_one_line_error():
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there now
    backend = make_backend(f'http://127.0.0.1:{port}/v1#m')
    backend.client = backend.client.with_options(max_retries=0, timeout=5)
    with pytest.raises(AgentlabError, match=f'cannot reach the model endpoint http://127.0.0.1:{port}/v1'):
        backend.generate([[{'role': 'user', 'content': 'hi'}]], GenerationConfig(max_new_tokens=4))


def test_lmdeploy_backend_refuses_without_it():
    with pytest.raises(AgentlabError, match='lmdeploy'):
        from agentlab.runtime.backends import LMDeployBackend
        LMDeployBackend('/nonexistent')


@pytest.mark.slow
def test_rows_of_one_batch_keep_their_own_token_budgets(embedded_model):
    """Suites with different max_new_tokens share a batch: each row ends exactly where it would have ended alone."""
    from agentlab.runtime.backends import TransformersBackend
    backend = TransformersBackend(embedded_model, threads=1)
    short = [{'role': 'user', 'content': 'Count from one to fifty in words.'}]
    long = [{'role': 'user', 'content': 'Write a long story about a lighthouse keeper.'}]
    config = GenerationConfig(max_new_tokens=20, stop=())
    mixed = backend.generate([short, long], config, limits=[5, 20])
    alone_short = backend.generate([short], GenerationConfig(max_new_tokens=5, stop=()))[0]
    alone_long = backend.generate([long], GenerationConfig(max_new_tokens=20, stop=()))[0]
    assert [g.completion_tokens for g in mixed] == [5, 20]
    assert mixed[0].text == alone_short.text and mixed[1].text == alone_long.text
    assert mixed[0].finish_reason == 'length'
    with pytest.raises(ValueError, match='2 token limits for 1'):
        backend.generate([short], config, limits=[5, 20])
