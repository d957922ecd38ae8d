"""Model backends, one module each, chosen by model spec: in-process transformers, llama.cpp for GGUF files (worker
processes of the llamacpp engine), an OpenAI-compatible endpoint, LMDeploy's in-process pipeline (GPU), and a replay
backend that returns recorded outputs. Each is imported only when
used (transformers and torch load in seconds, not at `agentlab --help`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentlab.errors import AgentlabError
from agentlab.models import ModelSpec, parse_model_spec
from agentlab.runtime.backends.base import (Backend, Generation, GenerationConfig, Messages, cut_at_stop,
                                            row_configs)

__all__ = ['ENGINES', 'Backend', 'BackendOptions', 'Generation', 'GenerationConfig', 'LMDeployBackend', 'LlamaCppBackend',
           'Messages', 'OpenAIBackend', 'ReplayBackend', 'TransformersBackend', 'cut_at_stop', 'make_backend',
           'row_configs']

# One module per backend, imported when first named (lm-evaluation-harness's lazy registry, by hand).
_LAZY = {'TransformersBackend': 'transformers', 'OpenAIBackend': 'openai', 'LMDeployBackend': 'lmdeploy',
         'LlamaCppBackend': 'llamacpp', 'ReplayBackend': 'replay'}

# Engines for local models; None picks by the model: llamacpp for a .gguf file, transformers for an HF folder.
ENGINES = ('transformers', 'llamacpp', 'lmdeploy')


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


@dataclass
class BackendOptions:
    device: str | None = None
    dtype: str = 'float32'
    threads: int | None = None
    batch_size: int = 8
    engine: str | None = None          # one of ENGINES for local models; None: by the model's kind
    slots: int | None = None           # llamacpp: worker processes (default: one per core / threads)
    concurrency: int = 4
    api: str = 'text'                  # endpoints: 'text' (the protocol as chat text) or 'tools' (function calling)
    extra: dict = field(default_factory=dict)


def make_backend(model: str | ModelSpec, options: BackendOptions | None = None) -> Backend:
    """The backend for any model spec (registered name, local folder, or endpoint)."""
    options = options or BackendOptions()
    spec = parse_model_spec(model) if isinstance(model, str) else model
    if spec.kind == 'endpoint':
        from agentlab.runtime.backends.openai import OpenAIBackend
        return OpenAIBackend(spec.base_url, spec.name, spec.api_key, concurrency=options.concurrency,
                             api=options.api)
    if options.engine is not None and options.engine not in ENGINES:
        raise AgentlabError(f'unknown engine {options.engine!r}; choose from {", ".join(ENGINES)}')
    if options.api != 'text':
        raise AgentlabError(f'--api {options.api} scores an endpoint (http://HOST:PORT/v1#MODEL); {spec.text} runs '
                            'in-process, where the protocol is the API')
    path = spec.local_path()
    engine = options.engine or ('llamacpp' if spec.kind == 'gguf' else 'transformers')
    if engine == 'llamacpp':
        if spec.kind != 'gguf':
            raise AgentlabError(f'--engine llamacpp runs GGUF files; {spec.text} is a model folder. Export it first: '
                                f'agentlab export --model {spec.text} --format gguf --quant q8_0 --out MODEL.gguf')
        from agentlab.runtime.backends.llamacpp import LlamaCppBackend
        backend = LlamaCppBackend(path, threads=options.threads, slots=options.slots)
        backend.name = spec.label
        return backend
    if spec.kind == 'gguf':
        raise AgentlabError(f'{spec.text} is a GGUF file: run it with --engine llamacpp (the default for .gguf), '
                            'or give the transformers engine the HF folder it was exported from')
    if engine == 'lmdeploy':
        from agentlab.runtime.backends.lmdeploy import LMDeployBackend
        return LMDeployBackend(path)
    from agentlab.runtime.backends.transformers import TransformersBackend
    backend = TransformersBackend(path, device=options.device, dtype=options.dtype, threads=options.threads,
                                  batch_size=options.batch_size)
    backend.name = spec.label
    return backend
