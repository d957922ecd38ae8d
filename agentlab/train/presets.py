"""Training presets: XTuner configs in configs/xtuner/, each with the base model it was written (and proven
template-identical) for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentlab import paths


@dataclass(frozen=True)
class Preset:
    name: str
    base_model: str              # model spec used when --model is not given
    needs_cuda: bool
    summary: str
    tokenizer_offline: bool = True   # False: the tokenizer must be present locally before parity can be checked

    @property
    def file(self) -> Path:
        return paths.configs_dir() / 'xtuner' / f'{self.name}.py'


PRESETS = {p.name: p for p in (
    Preset('smollm2-135m-lora-cpu', 'smollm2-135m', False, 'embedded model, LoRA r16, fp32, CPU'),
    Preset('llama3-8b-instruct-qlora-agentflan', 'meta-llama/Meta-Llama-3-8B-Instruct', True,
           "Agent-FLAN tutorial recipe: QLoRA nf4, r64/a16/d0.1, lr 2e-4, 4096 tokens, packed, 1x16, 3 epochs",
           tokenizer_offline=False),
    Preset('internlm2_5-7b-chat-qlora-agentflan', 'internlm/internlm2_5-7b-chat', True,
           'the same recipe for InternLM2.5-7B-chat', tokenizer_offline=False),
)}
