"""Model backends, one module each, chosen by model spec: in-process transformers, an OpenAI-compatible endpoint,
LMDeploy's in-process pipeline (GPU), and a replay backend that returns recorded outputs. Each is imported only when
used (transformers and torch load in seconds, not at `agentlab --help`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentlab.models import ModelSpec, parse_model_spec
from agentlab.runtime.backends.base import (Backend, Generation, GenerationConfig, Messages, cut_at_stop,
                                            row_configs)

__all__ = ['Backend', 'BackendOptions', 'Generation', 'GenerationConfig', 'LMDeployBackend', 'Messages', 'OpenAIBackend',
           'ReplayBackend', 'TransformersBackend', 'cut_at_stop', 'make_backend', 'row_configs']

# One module per backend, imported when first named (lm-evaluation-harness's lazy registry, by hand).
_LAZY = {'TransformersBackend': 'transformers', 'OpenAIBackend': 'openai', 'LMDeployBackend': 'lmdeploy',
         'ReplayBackend': 'replay'}


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
    engine: str = 'transformers'       # 'transformers' | 'lmdeploy' for local models
    concurrency: int = 4
    extra: dict = field(default_factory=dict)


def make_backend(model: str | ModelSpec, options: BackendOptions | None = None) -> Backend:
    """The backend for any model spec (registered name, local folder, or endpoint)."""
    options = options or BackendOptions()
    spec = parse_model_spec(model) if isinstance(model, str) else model
    if spec.kind == 'endpoint':
        from agentlab.runtime.backends.openai import OpenAIBackend
        return OpenAIBackend(spec.base_url, spec.name, spec.api_key, concurrency=options.concurrency)
    path = spec.local_path()
    if options.engine == 'lmdeploy':
        from agentlab.runtime.backends.lmdeploy import LMDeployBackend
        return LMDeployBackend(path)
    from agentlab.runtime.backends.transformers import TransformersBackend
    backend = TransformersBackend(path, device=options.device, dtype=options.dtype, threads=options.threads,
                                  batch_size=options.batch_size)
    backend.name = spec.label
    return backend
