"""The dtype policy: forced dtypes are used as given; `auto` follows the hardware, float32 without bf16 units."""

from __future__ import annotations

import pytest

from agentlab import precision
from agentlab.errors import AgentlabError


def test_a_forced_dtype_is_used_for_every_phase():
    p = precision.resolve('bfloat16')
    assert (p.train, p.prefill, p.decode, p.generation) == ('bfloat16', 'bfloat16', 'bfloat16', 'bfloat16')
    with pytest.raises(AgentlabError, match='--dtype must be one of'):
        precision.resolve('fp8')


def test_auto_falls_back_to_float32_when_the_cpu_has_no_bf16_units(monkeypatch):
    monkeypatch.setenv('AGENTLAB_NO_BF16', '1')
    precision.cpu_bf16_units.cache_clear()
    try:
        p = precision.resolve('auto', 'cpu')
        assert (p.train, p.prefill, p.decode) == ('float32', 'float32', 'float32') and 'without' in p.reason
    finally:
        precision.cpu_bf16_units.cache_clear()


def test_auto_on_a_cpu_with_avx512_bf16_but_no_amx_keeps_decode_in_float32(monkeypatch):
    monkeypatch.setattr(precision, 'cpu_bf16_units', lambda: 'avx512_bf16')
    p = precision.resolve('auto', 'cpu')
    assert (p.train, p.prefill, p.decode, p.generation) == ('bfloat16', 'bfloat16', 'float32', 'bfloat16+float32')
