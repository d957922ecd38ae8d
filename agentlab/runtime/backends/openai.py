"""Any OpenAI-compatible chat endpoint (LMDeploy, vLLM, `transformers serve`, agentlab serve): timeouts, retries
with back-off, and concurrent requests for a batch."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from agentlab.errors import AgentlabError
from agentlab.runtime.backends.base import Generation, GenerationConfig, Messages, cut_at_stop, row_configs


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint: timeouts, retries with back-off, concurrent requests for a batch."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 max_retries: int = 3, concurrency: int = 4):
        from openai import OpenAI
        self.name = f'{base_url}#{model}'
        self.model = model
        self.base_url = base_url
        # The SDK retries connection errors, 408/429/5xx with exponential back-off.
        self.client = OpenAI(base_url=base_url, api_key=api_key or 'EMPTY', timeout=timeout, max_retries=max_retries)
        self.concurrency = concurrency

    def _one(self, messages: Messages, config: GenerationConfig) -> Generation:
        import openai
        start = time.perf_counter()
        try:
            resp = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=config.max_new_tokens,
                temperature=config.temperature, top_p=config.top_p, stop=list(config.stop)[:4] or None,
                seed=config.seed, stream=False)
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
        raw = choice.message.content or ''
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
