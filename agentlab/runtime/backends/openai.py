"""Any OpenAI-compatible chat endpoint (LMDeploy, vLLM, `transformers serve`, agentlab serve): timeouts, retries
with back-off, and concurrent requests for a batch.

Two ways to talk to it (``api``):
  * ``text`` (default): the protocol's messages go as they are (the system prompt lists the tools) and the reply's
    text is the model's output: what any chat endpoint can do;
  * ``tools``: the endpoint's function-calling API. The tools are read back from the protocol's system prompt and
    sent as OpenAI ``tools``, earlier calls as assistant ``tool_calls`` (the thought as content) and results as
    ``role: "tool"`` messages; the reply's ``tool_calls`` or ``content`` are written back into the protocol so every
    suite scores them with its usual parser. ``agentlab eval --api tools`` scores a server this way.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from agentlab.errors import AgentlabError
from agentlab.runtime import protocol
from agentlab.runtime.backends.base import Generation, GenerationConfig, Messages, cut_at_stop, row_configs

APIS = ('text', 'tools')


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint: timeouts, retries with back-off, concurrent requests for a batch."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 max_retries: int = 3, concurrency: int = 4, api: str = 'text'):
        from openai import OpenAI
        if api not in APIS:
            raise AgentlabError(f'unknown --api {api!r}; choose text or tools')
        self.api = api
        self.name = f'{base_url}#{model}'
        self.model = model
        self.base_url = base_url
        # The SDK retries connection errors, 408/429/5xx with exponential back-off.
        self.client = OpenAI(base_url=base_url, api_key=api_key or 'EMPTY', timeout=timeout, max_retries=max_retries)
        self.concurrency = concurrency
        self.timeout = timeout

    def _one(self, messages: Messages, config: GenerationConfig) -> Generation:
        import openai
        start = time.perf_counter()
        extra = {}
        if self.api == 'tools':
            messages, tools = to_openai(messages)
            if tools:
                extra = {'tools': tools, 'tool_choice': 'auto'}
        try:
            resp = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=config.max_new_tokens,
                temperature=config.temperature, top_p=config.top_p, seed=config.seed, stream=False,
                # with tools, the server applies the protocol's stop words itself; OpenAI allows four at most
                stop=None if extra else (list(config.stop)[:4] or None), **extra)
        except openai.APITimeoutError:
            raise AgentlabError(f'{self.base_url} did not answer within {self.timeout:.0f} s (a slow or overloaded '
                                'server; fewer --workers send fewer requests at once)') from None
        except openai.APIConnectionError:
            raise AgentlabError(f'cannot reach the model endpoint {self.base_url} (is the server running?)') from None
        except openai.AuthenticationError:
            raise AgentlabError(f'{self.base_url} refused the API key (set AGENTLAB_API_KEY)') from None
        except openai.NotFoundError:
            raise AgentlabError(f'{self.base_url} does not serve model {self.model!r} '
                                '(GET /v1/models lists the names)') from None
        except openai.APIStatusError as exc:
            raise AgentlabError(f'{self.base_url} answered HTTP {exc.status_code}: {str(exc)[:200]}') from None
        choice = resp.choices[0]
        raw = from_openai(choice.message) if extra else (choice.message.content or '')
        text, stopped = cut_at_stop(raw, config.stop)
        usage = resp.usage
        return Generation(text, getattr(usage, 'prompt_tokens', 0) or 0, getattr(usage, 'completion_tokens', 0) or 0,
                          time.perf_counter() - start, 'stop_word' if stopped else (choice.finish_reason or ''))

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        configs = row_configs(config, limits, len(batch))
        if len(batch) == 1:
            return [self._one(batch[0], configs[0])]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._one, batch, configs))


def to_openai(messages: Messages) -> tuple[list[dict], list[dict]]:
    """Protocol messages -> (OpenAI messages, OpenAI tools): the inverse of what agentlab's serve bridge renders."""
    found = protocol.find_tool_list(messages[0]['content']) if messages and messages[0]['role'] == 'system' else None
    if found is None:
        return [dict(m) for m in messages], []
    tools = [{'type': 'function', 'function': protocol.openai_function(d)} for d in found[2]]
    out: list[dict] = []
    pending: str | None = None
    for i, m in enumerate(messages[1:], 1):
        if m['role'] == 'assistant':
            parsed = protocol.parse(m['content'], 'strict')
            if parsed.kind == 'call':
                pending = f'call_{i}'
                out.append({'role': 'assistant', 'content': parsed.thought or None, 'tool_calls': [{
                    'id': pending, 'type': 'function',
                    'function': {'name': parsed.name, 'arguments': parsed.raw_arguments or '{}'}}]})
            else:
                out.append({'role': 'assistant', 'content': parsed.answer if parsed.kind == 'finish' else m['content']})
        elif m['role'] == 'user' and pending and m['content'].startswith(protocol.RESPONSE):
            result = m['content'][len(protocol.RESPONSE):]
            out.append({'role': 'tool', 'tool_call_id': pending, 'content': result[:-1] if result.endswith('\n')
                        else result})
            pending = None
        else:
            out.append({'role': m['role'], 'content': m['content']})
    return out, tools


def from_openai(message) -> str:
    """An OpenAI assistant message as the protocol text a model would have written (thought from
    ``reasoning_content`` where the server sends it)."""
    extra = getattr(message, 'model_extra', None) or {}
    thought = extra.get('reasoning_content') or extra.get('reasoning') or ''
    if message.tool_calls:
        fn = message.tool_calls[0].function
        return protocol.render_action(thought, fn.name, fn.arguments or '{}')
    return protocol.render_finish(thought, message.content or '')
