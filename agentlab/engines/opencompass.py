"""OpenCompass (the bench environment): reading the results a run leaves (its timestamped folder, summary CSV,
predictions and per-item details)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from agentlab.errors import AgentlabError


def latest_run(work: Path) -> Path:
    runs = sorted(p for p in work.iterdir() if p.is_dir() and re.fullmatch(r'\d{8}_\d{6}', p.name))
    if not runs:
        raise AgentlabError(f'OpenCompass wrote no run folder under {work}')
    return runs[-1]


def read_summary(run: Path) -> list[dict]:
    files = sorted((run / 'summary').glob('summary_*.csv'))
    if not files:
        return []
    with open(files[-1], encoding='utf-8') as fh:
        return list(csv.DictReader(fh))


def predictions(run: Path) -> dict[str, list[dict]]:
    """{dataset abbr: [prediction rows]} from OpenCompass's predictions folder."""
    out: dict[str, list[dict]] = {}
    for f in sorted((run / 'predictions' / 'model').glob('*.json')):
        data = json.loads(f.read_text(encoding='utf-8'))
        abbr = re.sub(r'_\d+$', '', f.stem) if re.search(r'_\d+$', f.stem) and f.stem not in out else f.stem
        rows = [data[k] for k in sorted(data, key=lambda x: int(x) if str(x).isdigit() else 0)]
        out.setdefault(abbr, []).extend(rows)
    return out


def item_details(run: Path, abbr: str) -> list[dict] | None:
    f = run / 'results' / 'model' / f'{abbr}.json'
    if not f.is_file():
        return None
    data = json.loads(f.read_text(encoding='utf-8'))
    details = data.get('details')
    if isinstance(details, dict):
        details = [details[k] for k in sorted((k for k in details if str(k).isdigit()), key=int)]
    return details if isinstance(details, list) else None


def item_correct(detail: dict) -> bool | None:
    """Whether OpenCompass judged one item right: its evaluator's own flag, else prediction == reference."""
    for key in ('correct', 'is_correct'):
        if key in detail:
            ok = detail[key]
            return bool(ok[0]) if isinstance(ok, list) and ok else bool(ok)
    if 'predictions' in detail and 'references' in detail:
        return detail['predictions'] == detail['references']
    return None
