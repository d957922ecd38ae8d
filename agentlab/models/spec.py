"""Model specs, parsed here and nowhere else.

A model spec is one of:
  * a registered name, e.g. ``smollm2-135m`` (pulled on first use into $AGENTLAB_HOME/models);
  * a local Hugging Face model folder (has a config.json);
  * a GGUF file (``agentlab export --format gguf`` writes one), run by the llama.cpp engine;
  * an OpenAI-compatible endpoint ``http(s)://HOST:PORT/v1#MODEL`` (LMDeploy, vLLM, ``transformers serve``); the API
    key comes from $AGENTLAB_API_KEY when set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from agentlab.errors import AgentlabError
from agentlab.models.gguf import is_gguf_path
from agentlab.models.pull import pull, pulled_path
from agentlab.models.registry import REGISTRY


@dataclass(frozen=True)
class ModelSpec:
    kind: Literal['registered', 'local', 'gguf', 'endpoint']
    text: str                      # as the user wrote it
    name: str                      # registered name, folder path, or the endpoint's model name
    base_url: str | None = None    # endpoint only, ends with /v1
    api_key: str | None = None

    @property
    def label(self) -> str:
        """A short human name for reports and the demo's column headers."""
        if self.kind == 'local':
            p = Path(self.name)
            return p.name if p.name not in ('merged', 'hf') else f'{p.parent.name}/{p.name}'
        if self.kind == 'gguf':
            return Path(self.name).name
        return self.name

    def local_path(self, fetch: bool = True) -> Path:
        """The HF folder of a registered or local model (pulling a registered one if needed), or the GGUF file."""
        if self.kind == 'endpoint':
            raise AgentlabError(f'{self.text} is an endpoint, not a local model folder')
        if self.kind in ('local', 'gguf'):
            return Path(self.name)
        return pull(self.name) if fetch else pulled_path(self.name)


def parse_model_spec(text: str) -> ModelSpec:
    """Parse any ``--model`` value. Raises AgentlabError with a one-line reason when it is none of the three."""
    raw = (text or '').strip()
    if not raw:
        raise AgentlabError('empty model spec; give a registered name (agentlab models list), a local HF folder, '
                            'or http://HOST:PORT/v1#MODEL')
    if raw.startswith(('http://', 'https://')):
        url, sep, model = raw.partition('#')
        parts = urlsplit(url)
        if not parts.hostname:
            raise AgentlabError(f'endpoint spec {raw!r} has no host; expected http(s)://HOST:PORT/v1#MODEL')
        try:
            parts.port
        except ValueError:
            raise AgentlabError(f'endpoint spec {raw!r} has an invalid port') from None
        if not sep or not model.strip():
            raise AgentlabError(f'endpoint spec {raw!r} names no model; expected http(s)://HOST:PORT/v1#MODEL '
                                '(GET /v1/models lists the names)')
        base = url.rstrip('/')
        if not base.endswith('/v1'):
            raise AgentlabError(f'endpoint spec {raw!r} must end its URL with /v1 (the OpenAI-compatible root)')
        return ModelSpec('endpoint', raw, model.strip(), base_url=base,
                         api_key=os.environ.get('AGENTLAB_API_KEY') or None)
    if raw in REGISTRY:
        return ModelSpec('registered', raw, raw)
    path = Path(raw).expanduser()
    if path.is_dir():
        if not (path / 'config.json').is_file():
            raise AgentlabError(f'{raw} is a folder but not a Hugging Face model folder (no config.json)')
        return ModelSpec('local', raw, str(path.resolve()))
    if path.is_file() and is_gguf_path(raw):
        return ModelSpec('gguf', raw, str(path.resolve()))
    if is_gguf_path(raw):
        raise AgentlabError(f'{raw}: no such GGUF file')
    if path.exists():
        raise AgentlabError(f'{raw} is a file; a local model must be a Hugging Face model folder or a .gguf file')
    known = ', '.join(REGISTRY)
    raise AgentlabError(f'unknown model {raw!r}: not a registered name ({known}), an existing folder, '
                        'a .gguf file, or an http(s)://HOST:PORT/v1#MODEL endpoint')
