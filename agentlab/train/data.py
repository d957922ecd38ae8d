"""Training data as `agentlab train` takes it: XTuner conversation JSONL files, mixed by weight and validated row
by row (a bad row is a one-line error naming its file and line)."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

from agentlab.errors import AgentlabError
from agentlab.provenance import sha256_file


def parse_data_arg(text: str) -> list[tuple[Path, float]]:
    """``a.jsonl:2,b.jsonl`` -> [(a, 2.0), (b, 1.0)]."""
    out = []
    for item in [t for t in text.split(',') if t.strip()]:
        path, _, weight = item.strip().rpartition(':') if re.search(r':[\d.]+$', item.strip()) else (item, '', '1')
        p = Path(path.strip())
        if not p.is_file():
            raise AgentlabError(f'data file {p} does not exist')
        try:
            w = float(weight)
        except ValueError:
            raise AgentlabError(f'bad weight {weight!r} in --data {item!r}') from None
        if w <= 0:
            raise AgentlabError(f'weight must be > 0 in --data {item!r}')
        out.append((p, w))
    if not out:
        raise AgentlabError('--data names no file')
    return out


def _check_row(obj, where: str) -> list[dict]:
    conv = obj.get('conversation') if isinstance(obj, dict) else None
    if not isinstance(conv, list) or not conv:
        raise AgentlabError(f'{where}: not XTuner data (no "conversation" list); convert it with agentlab convert')
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict) or not isinstance(turn.get('input'), str) \
                or not isinstance(turn.get('output'), str):
            raise AgentlabError(f'{where}: conversation[{i}] needs string "input" and "output"')
        if 'output_with_loss' in turn and not isinstance(turn['output_with_loss'], bool):
            raise AgentlabError(f'{where}: conversation[{i}].output_with_loss must be true or false')
        if 'system' in turn and not isinstance(turn['system'], str):
            raise AgentlabError(f'{where}: conversation[{i}].system must be a string')
    if not any(t.get('output_with_loss', True) for t in conv):
        raise AgentlabError(f'{where}: no turn is trained (all output_with_loss false)')
    return conv


def prepare_data(specs: list[tuple[Path, float]], out: Path, default_system: str | None, seed: int) -> dict:
    """Validate every row against the XTuner contract, mix files by weight (2 = every row twice, 0.5 = a seeded
    half), fill a model's default system prompt where the chat template would inject one; write ``out``."""
    rng = random.Random(seed)
    rows: list[str] = []
    per_file = {}
    for path, weight in specs:
        kept = 0
        with open(path, encoding='utf-8-sig') as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise AgentlabError(f'{path}:{lineno}: invalid JSON ({exc.msg})') from None
                conv = _check_row(obj, f'{path}:{lineno}')
                if default_system and not conv[0].get('system'):
                    conv[0]['system'] = default_system
                text = json.dumps({'conversation': conv}, ensure_ascii=False)
                copies = int(weight) + (1 if rng.random() < weight - int(weight) else 0)
                rows += [text] * copies
                kept += copies
        per_file[str(path)] = {'weight': weight, 'rows': kept}
    if not rows:
        raise AgentlabError('the training data has no rows')
    rng.shuffle(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix('.tmp')
    tmp.write_text('\n'.join(rows) + '\n', encoding='utf-8')
    os.replace(tmp, out)
    return {'rows': len(rows), 'files': per_file, 'sha256': sha256_file(out)}
