"""The dtype policy, in one place: which floating-point type each phase of work runs in.

``--dtype auto`` (the default of every command that loads weights) picks, per phase, what was measured fastest on
this kind of machine (docs/results.md, "bfloat16 on this CPU"):

* training: bfloat16 base weights where the CPU has bfloat16 units (AVX512-BF16 or AMX) or the GPU supports it, with
  the LoRA weights and optimizer state in float32 (mixed precision the way peft intends it); float32 otherwise;
* prefill (reading the prompt): bfloat16 where the hardware has the units (matmuls at prompt length run ~2x);
* decode (one token at a time): the same as prefill on a GPU; on a CPU without AMX, float32 unless measured
  otherwise (small-row bfloat16 matmuls fall back to slower kernels there).

``float32``, ``bfloat16`` and ``float16`` force one dtype for every phase. What was chosen is printed once and
recorded in results.json, train_summary.json and the quickstart report.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from agentlab.errors import AgentlabError

CHOICES = ('auto', 'float32', 'bfloat16', 'float16')
PHASES = ('train', 'prefill', 'decode')


@lru_cache(maxsize=1)
def cpu_bf16_units() -> str | None:
    """'amx' | 'avx512_bf16' | None: the bfloat16 units this CPU has, as torch sees them (AGENTLAB_NO_BF16=1 says
    none, for testing the float32 fallback)."""
    import os
    if os.environ.get('AGENTLAB_NO_BF16'):
        return None
    import torch
    if getattr(torch.cpu, '_is_amx_tile_supported', lambda: False)():
        return 'amx'
    if getattr(torch.cpu, '_is_avx512_bf16_supported', lambda: False)():
        return 'avx512_bf16'
    return None


def check(requested: str) -> str:
    if requested not in CHOICES:
        raise AgentlabError(f'--dtype must be one of {", ".join(CHOICES)}, not {requested!r}')
    return requested


@dataclass(frozen=True)
class Precision:
    """The dtype of each phase, and why."""
    train: str
    prefill: str
    decode: str
    reason: str

    @property
    def generation(self) -> str:
        """The dtype(s) generation runs in: 'bfloat16', or 'bfloat16+float32' (prefill+decode)."""
        return self.prefill if self.prefill == self.decode else f'{self.prefill}+{self.decode}'

    def describe(self) -> str:
        if self.prefill == self.decode:
            return f'{self.prefill} ({self.reason})'
        return f'{self.prefill} prefill, {self.decode} decode ({self.reason})'

    def to_dict(self) -> dict:
        return {'train': self.train, 'prefill': self.prefill, 'decode': self.decode, 'reason': self.reason}


def resolve(requested: str = 'auto', device: str = 'cpu') -> Precision:
    """The policy's answer for ``requested`` on ``device`` ('cpu' or 'cuda...')."""
    check(requested)
    if requested != 'auto':
        return Precision(requested, requested, requested, f'--dtype {requested}')
    if device.startswith('cuda'):
        import torch
        if torch.cuda.is_bf16_supported():
            return Precision('bfloat16', 'bfloat16', 'bfloat16', 'CUDA GPU with bfloat16')
        return Precision('float16', 'float16', 'float16', 'CUDA GPU without bfloat16')
    units = cpu_bf16_units()
    if units == 'amx':
        return Precision('bfloat16', 'bfloat16', 'bfloat16', 'CPU with AMX')
    if units == 'avx512_bf16':
        return Precision('bfloat16', 'bfloat16', DECODE_WITHOUT_AMX, 'CPU with AVX512-BF16, no AMX')
    return Precision('float32', 'float32', 'float32', 'CPU without bfloat16 units')


# Measured on an AMD EPYC with AVX512-BF16 and no AMX (docs/results.md): see agentlab/runtime/backends/transformers.py
DECODE_WITHOUT_AMX = 'float32'
