"""Model backends, chosen by model spec: in-process transformers, an OpenAI-compatible endpoint (LMDeploy, vLLM,
`transformers serve`), LMDeploy's in-process pipeline (GPU), and a replay backend that returns recorded outputs.

Every backend takes a batch of chat conversations and returns one Generation each, cut at the protocol's stop words
so a model can never write a tool's result itself. Lagent's own HF wrappers are not used: they hard-code `.cuda()`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from agentlab import protocol
from agentlab.errors import AgentlabError
from agentlab.models import ModelSpec, parse_model_spec

Messages = list[dict]


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0           # 0 = greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = protocol.STOP_WORDS
    seed: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = ''            # 'stop' | 'length' | 'stop_word'


def cut_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """Text up to the earliest stop word, and whether one was found."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut], cut != len(text)


def row_configs(config: GenerationConfig, limits: Sequence[int] | None, n: int) -> list[GenerationConfig]:
    """One config per row: ``config`` with each row's own max_new_tokens where ``limits`` gives them."""
    if limits is None:
        return [config] * n
    if len(limits) != n:
        raise ValueError(f'{len(limits)} token limits for {n} conversations')
    return [replace(config, max_new_tokens=int(k)) for k in limits]


class Backend(Protocol):
    """``generate(batch, config, limits)``: one Generation per conversation. ``limits``, when given, is each row's
    own max_new_tokens (at most config.max_new_tokens): an eval run batches the turns of suites whose token budgets
    differ, and every row must end exactly where it would have ended alone."""
    name: str

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]: ...


# --- in-process transformers ----------------------------------------------------------------------------------

class TransformersBackend:
    """A local HF folder, generated in this process (CPU or GPU); batched with left padding."""

    def __init__(self, path: str | Path, device: str | None = None, dtype: str = 'float32', threads: int | None = None,
                 batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        self.name = str(path)
        if threads:
            torch.set_num_threads(threads)
        elif os.environ.get('OMP_NUM_THREADS'):
            torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
        self.device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.dtype = dtype
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = 'left'
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        self._stops: dict = {}
        self._lock = threading.Lock()   # one generate at a time per model (the demo serves several sessions)

    def _stop_criteria(self, stop: tuple[str, ...]):
        # StopStringCriteria precomputes a table over the whole vocabulary (seconds for 49k tokens): build it once
        # per stop-word set, not on every generate() call as `stop_strings=` would.
        from transformers import StopStringCriteria
        if stop not in self._stops:
            self._stops[stop] = StopStringCriteria(self.tokenizer, list(stop))
        return self._stops[stop]

    def render(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        limits = [c.max_new_tokens for c in row_configs(config, limits, len(batch))]
        out: list[Generation] = []
        for i in range(0, len(batch), self.batch_size):
            out += self._generate(batch[i:i + self.batch_size], config, limits[i:i + self.batch_size])
        return out

    def _generate(self, batch: Sequence[Messages], config: GenerationConfig, limits: list[int]) -> list[Generation]:
        import torch
        prompts = [self.render(m) for m in batch]
        enc = self.tokenizer(prompts, return_tensors='pt', padding=True, add_special_tokens=False).to(self.device)
        kwargs = dict(max_new_tokens=max(limits), pad_token_id=self.tokenizer.pad_token_id,
                      eos_token_id=self.tokenizer.eos_token_id)
        criteria = []
        if config.stop:
            criteria.append(self._stop_criteria(tuple(config.stop)))
        if len(set(limits)) > 1:
            criteria.append(_row_budget(enc['input_ids'].shape[1], limits, self.device))
        if criteria:
            kwargs['stopping_criteria'] = criteria
        if config.temperature > 0:
            if config.seed is not None:
                torch.manual_seed(config.seed)
            kwargs.update(do_sample=True, temperature=config.temperature, top_p=config.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        start = time.perf_counter()
        with self._lock, torch.no_grad():
            seqs = self.model.generate(**enc, **kwargs)
        seconds = time.perf_counter() - start
        width = enc['input_ids'].shape[1]
        results = []
        for row, ids in enumerate(seqs[:, width:].tolist()):
            new = [t for t in ids if t != self.tokenizer.pad_token_id]
            hit_eos = len(new) < len(ids) or (ids and ids[-1] == self.tokenizer.eos_token_id)
            raw = self.tokenizer.decode(new, skip_special_tokens=True)
            text, stopped = cut_at_stop(raw, config.stop)
            # a row that used its whole budget is 'length' even when rows beside it went on (it is padded after)
            reason = 'stop_word' if stopped else ('length' if len(new) >= limits[row] else
                                                  ('stop' if hit_eos else 'length'))
            results.append(Generation(text, int(enc['attention_mask'][row].sum()), len(new), seconds / len(batch),
                                      reason))
        return results


def _row_budget(width: int, limits: Sequence[int], device):
    """A stopping criterion that ends each row after its own number of new tokens.

    HF's generate has one max_new_tokens per call; a criterion returning one flag per row makes generate mark that
    row finished (it is padded from then on) while the others go on, so each row gets exactly the tokens it would
    have got alone with its own limit."""
    import torch
    from transformers import StoppingCriteria

    class RowBudget(StoppingCriteria):
        def __init__(self):
            self.limits = torch.tensor(list(limits), device=device)

        def __call__(self, input_ids, scores, **kwargs):
            return (input_ids.shape[1] - width) >= self.limits

    return RowBudget()


# --- OpenAI-compatible endpoint -------------------------------------------------------------------------------

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


# --- LMDeploy in-process pipeline (GPU) -----------------------------------------------------------------------

class LMDeployBackend:
    """LMDeploy's pipeline in this process. Needs lmdeploy and a CUDA GPU (LMDeploy has no CPU engine)."""

    def __init__(self, path: str | Path, tp: int = 1, quant_policy: int = 0):
        try:
            import lmdeploy
        except ImportError:
            raise AgentlabError('lmdeploy is not installed in this environment (it runs on CUDA GPUs only); '
                                'use the transformers backend or an endpoint') from None
        from agentlab.envs import cuda_available
        if not cuda_available():
            raise AgentlabError('LMDeploy needs a CUDA GPU and none was found; use the transformers backend')
        self.name = str(path)
        self.pipe = lmdeploy.pipeline(str(path), backend_config=lmdeploy.TurbomindEngineConfig(
            tp=tp, quant_policy=quant_policy))

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        import lmdeploy
        # the pipeline takes one GenerationConfig per prompt
        gens = [lmdeploy.GenerationConfig(max_new_tokens=c.max_new_tokens, temperature=c.temperature or 1e-6,
                                          top_p=c.top_p, stop_words=list(c.stop), do_sample=c.temperature > 0)
                for c in row_configs(config, limits, len(batch))]
        start = time.perf_counter()
        outs = self.pipe(list(batch), gen_config=gens)
        seconds = (time.perf_counter() - start) / max(1, len(batch))
        result = []
        for o in outs:
            text, stopped = cut_at_stop(o.text, config.stop)
            result.append(Generation(text, o.input_token_len, o.generate_token_len, seconds,
                                     'stop_word' if stopped else o.finish_reason or ''))
        return result


# --- replay ---------------------------------------------------------------------------------------------------

class ReplayBackend:
    """Returns recorded outputs in order (a list, or a JSONL file of {"text": ...}); for deterministic demos,
    tests of every step type, and measuring the runtime's own overhead without a model."""

    def __init__(self, outputs: Sequence[str] | str | Path, name: str = 'replay', cycle: bool = True):
        if isinstance(outputs, (str, Path)) and Path(outputs).is_file():
            outputs = [json.loads(line)['text'] for line in Path(outputs).read_text().splitlines() if line.strip()]
        self.outputs = list(outputs)
        if not self.outputs:
            raise AgentlabError('replay backend needs at least one recorded output')
        self.name = name
        self.cycle = cycle
        self.position = 0
        self.prompts: list[Messages] = []
        self._lock = threading.Lock()

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        out = []                        # recorded texts are returned whole: ``limits`` has nothing to cut
        with self._lock:
            for messages in batch:
                self.prompts.append([dict(m) for m in messages])
                if self.position >= len(self.outputs):
                    if not self.cycle:
                        raise AgentlabError('replay backend ran out of recorded outputs')
                    self.position = 0
                raw = self.outputs[self.position]
                self.position += 1
                text, stopped = cut_at_stop(raw, config.stop)
                out.append(Generation(text, 0, len(text.split()), 0.0, 'stop_word' if stopped else 'stop'))
        return out


@dataclass
class BackendOptions:
    device: str | None = None
    dtype: str = 'float32'
    threads: int | None = None
    batch_size: int = 8
    engine: str = 'transformers'       # 'transformers' | 'lmdeploy' for local models
    concurrency: int = 4
    extra: dict = field(default_factory=dict)


def make_backend(model: str | ModelSpec, options: BackendOptions | None = None) -> Backend:
    """The backend for any model spec (registered name, local folder, or endpoint)."""
    options = options or BackendOptions()
    spec = parse_model_spec(model) if isinstance(model, str) else model
    if spec.kind == 'endpoint':
        return OpenAIBackend(spec.base_url, spec.name, spec.api_key, concurrency=options.concurrency)
    path = spec.local_path()
    if options.engine == 'lmdeploy':
        return LMDeployBackend(path)
    backend = TransformersBackend(path, device=options.device, dtype=options.dtype, threads=options.threads,
                                  batch_size=options.batch_size)
    backend.name = spec.label
    return backend
