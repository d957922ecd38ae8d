"""What `agentlab eval` writes (docs/results-schema.md): DIR/cases.jsonl, one line per finished case, appended and
fsynced as it finishes (a line torn by a crash is dropped on the next run), and DIR/results.json, per suite n, every
rate with its 95% Wilson interval and direction, mean steps, generation tokens/s, settings and data hashes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

SCHEMA = 'agentlab.eval/1'
CASES = 'cases.jsonl'
RESULTS = 'results.json'
RUN = 'run.json'


def read_cases(path: Path) -> list[dict]:
    """Every complete line of cases.jsonl (a torn last line, left by a crash mid-write, is ignored)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding='utf-8').splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class CaseLog:
    """Appends finished cases to cases.jsonl, one flushed and fsynced line each."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            data = path.read_bytes()
            if data and not data.endswith(b'\n'):      # a torn line from an interrupted write: drop it
                cut = data.rfind(b'\n') + 1
                with open(path, 'r+b') as fh:
                    fh.truncate(cut)
        self.fh = open(path, 'a', encoding='utf-8')

    def write(self, record: dict) -> None:
        self.fh.write(json.dumps(record, ensure_ascii=False) + '\n')
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def latest(rows) -> list[dict]:
    """One record per id (the last one written wins), in id order of first appearance."""
    by_id: dict[str, dict] = {}
    for r in rows:
        by_id[r['id']] = r
    return list(by_id.values())


def suite_summary(suite, records: list[dict], limit: int | None, n_available: int, dtype: Any) -> dict:
    n = len(records)
    tokens = sum(r.get('completion_tokens', 0) for r in records)
    gen_s = sum(r.get('generation_seconds', 0.0) for r in records)
    ids = sorted(r['id'] for r in records)
    settings = dict(suite.settings())
    settings['dtype'] = dtype
    return {
        'kind': suite.kind, 'n': n, 'n_available': n_available, 'limit': limit,
        'primary_metric': suite.primary_metric,
        'metrics': suite.metrics(records),
        'mean_steps': round(sum(r.get('steps', 0) for r in records) / n, 4) if n else None,
        'completion_tokens': tokens,
        'generation_seconds': round(gen_s, 3),
        'tokens_per_s': round(tokens / gen_s, 3) if gen_s else None,
        'cases_per_s': round(n / gen_s, 5) if gen_s else None,
        'settings': settings,
        'data': suite.data_info(),
        'case_ids_sha256': hashlib.sha256('\n'.join(ids).encode()).hexdigest(),
    }


def pct(rate: dict) -> str:
    if not rate or rate.get('value') is None:
        return 'n/a'
    lo, hi = rate['ci95']
    return f'{100 * rate["value"]:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({rate["k"]}/{rate["n"]})'
