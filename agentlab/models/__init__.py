"""Models: the registry of embedded models (registry), model specs (spec: a name, a folder or an endpoint), and
pulling a registered model into a cached Hugging Face folder (pull)."""

from agentlab.models.registry import DEFAULT_MODEL, REGISTRY, RegisteredModel
from agentlab.models.spec import ModelSpec, parse_model_spec

__all__ = ['DEFAULT_MODEL', 'REGISTRY', 'ModelSpec', 'RegisteredModel', 'parse_model_spec']
