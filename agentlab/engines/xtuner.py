"""XTuner, as agentlab drives it: the injected block of a preset config, the training log's iteration lines, the
checkpoint to resume from, and the template-parity verdict of ``scripts/xtuner_encode.py``.

XTuner's pitfalls on CPU that the scripts work around (``scripts/xtuner_run.py``): the ``xtuner`` CLI exits 0 even
on failure (agentlab runs ``python -m xtuner.tools.train``), ``torch.cpu.is_bf16_supported`` is missing, and torch
>= 2.6 refuses mmengine checkpoints unless TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (docs/engine-notes.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from agentlab.errors import AgentlabError

INJECT_BEGIN = '# ---- injected by `agentlab train` (begin) ----'
INJECT_END = '# ---- injected by `agentlab train` (end) ----'
ITER_LINE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\].*?eta:\s*(\S+).*?time:\s*([\d.]+).*?loss:\s*([\d.]+)')


def render_config(template: str, values: dict) -> str:
    """Fill the injected block of a preset with ``values`` (each an assignment line ``name = repr(value)``)."""
    if INJECT_BEGIN not in template or INJECT_END not in template:
        raise AgentlabError('config has no "injected by `agentlab train`" block; use a preset from configs/xtuner')
    head, rest = template.split(INJECT_BEGIN, 1)
    block, tail = rest.split(INJECT_END, 1)
    for key, value in values.items():
        pattern = re.compile(rf'^{re.escape(key)} = .*$', re.M)
        if not pattern.search(block):
            raise AgentlabError(f'config has no injectable setting {key!r}')
        block = pattern.sub(lambda _m: f'{key} = {value!r}', block)
    return head + INJECT_BEGIN + block + INJECT_END + tail


def parse_iter_line(line: str) -> dict | None:
    """mmengine's ``Iter(train) [ 12/200] ... eta: ... time: 1.6 ... loss: 0.81`` -> its numbers (None otherwise)."""
    m = ITER_LINE.search(line)
    if not m:
        return None
    return {'iter': int(m.group(1)), 'max_iters': int(m.group(2)), 'eta': m.group(3), 'seconds': float(m.group(4)),
            'loss': float(m.group(5))}


def check_parity(parity: dict, template_path: Path) -> None:
    if parity.get('mismatch_count'):
        first = parity['mismatches'][0]
        raise AgentlabError(
            f'{template_path.name}: the prompt template does not match the tokenizer\'s chat template '
            f'({parity["mismatch_count"]}/{parity["checked"]} conversations differ; first at token '
            f'{first["first_difference"]}: XTuner {first["xtuner"]!r} vs chat template {first["chat_template"]!r})')


def last_checkpoint(work_dir: Path) -> Path | None:
    marker = work_dir / 'xtuner' / 'last_checkpoint'
    if marker.is_file():
        p = Path(marker.read_text().strip())
        if p.is_file():
            return p
    ckpts = sorted((work_dir / 'xtuner').glob('iter_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    return ckpts[-1] if ckpts else None
