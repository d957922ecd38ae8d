"""`agentlab compare BEFORE AFTER [more...] --out DIR`: a before/after report that reads without agentlab.

Reads each run's results.json and cases.jsonl (from `agentlab eval` or `agentlab bench`; `DIR1+DIR2` joins the
folders of one model, e.g. its eval and bench runs), and writes
DIR/report.md: per suite and metric, each run's rate with its 95% Wilson interval, the change against the first run,
and McNemar's exact p-value over the cases both runs scored; examples of fixed and newly broken cases with their
raw outputs; and warnings when the runs' generation settings, dtypes or case sets differ (or a suite is missing).
DIR/chart.png draws grouped bars per suite and metric; DIR/compare.json holds the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agentlab.errors import AgentlabError
from agentlab.evals.metrics import mcnemar_exact

# metric -> how to read its per-case flag from a cases.jsonl verdict (None: the case does not count for it)
Flag = Callable[[dict], Any]


def _key(name: str) -> Flag:
    return lambda row: row['verdict'].get(name)


METRIC_FLAGS: dict[str, Flag] = {
    'ast_accuracy': _key('official'), 'ast_accuracy_strict_parse': _key('official_strict'),
    'irrelevance_official': _key('official'), 'irrelevance_official_strict_parse': _key('official_strict'),
    'relevance_official': _key('official'),
    'abstention_strict': _key('abstained'), 'unparseable': _key('unparseable'), 'called_a_tool': _key('called'),
    'strict_parse': _key('strict_parse'), 'tolerant_parse': _key('tolerant_parse'),
    'tool_name_accuracy': _key('tool_name'), 'hallucinated_tool': _key('hallucinated_tool'),
    'task_success': _key('task_success'), 'exec_success': _key('exec_success'), 'finished': _key('finished'),
    'task_success_multi_step': lambda r: r['verdict'].get('task_success') if r.get('multi_step') else None,
    'next_action_accuracy': _key('next_action'), 'argument_accuracy': _key('arguments'),
    'finish_accuracy': lambda r: r['verdict'].get('next_action') if r['verdict'].get('reference_kind') == 'finish'
    else None,
    'accuracy': _key('correct'),
}


def change_mark(higher_is_better: bool, delta: float | None, p_value: float | None) -> str:
    """' (better)' / ' (worse)' for a change McNemar calls significant (p < 0.05), '' otherwise. Which way is better
    is the metric's own declaration in results.json (the suite that defines a metric says; e.g. a call on an
    irrelevance case is a wrong answer, so more of ``called_a_tool`` is worse)."""
    if not delta or p_value is None or p_value >= 0.05:
        return ''
    worse = delta < 0 if higher_is_better else delta > 0
    return ' (worse)' if worse else ' (better)'


CHART_METRICS = ('ast_accuracy', 'irrelevance_official', 'abstention_strict', 'task_success', 'exec_success',
                 'next_action_accuracy', 'accuracy', 'strict_parse', 'tool_name_accuracy')


@dataclass
class Run:
    path: Path
    results: dict
    cases: dict[str, dict[str, dict]]      # suite -> id -> row

    @property
    def label(self) -> str:
        model = self.results.get('model', {})
        name = model.get('label') or model.get('spec') or '?'
        return f'{"+".join(Path(p).name for p in str(self.path).split("+"))} ({name})'


def load_run(path: str | Path) -> Run:
    """One run: a folder from `agentlab eval` or `agentlab bench`, or several joined with '+' (e.g.
    runs/base+runs/bench-base), whose suites are put together so tool-call and general-ability numbers sit side by
    side."""
    from agentlab.evals.results import read_cases
    parts = [Path(p) for p in str(path).split('+') if p]
    results: dict = {}
    cases: dict[str, dict[str, dict]] = {}
    for part in parts:
        res = part / 'results.json'
        if not res.is_file():
            raise AgentlabError(f'{part} has no results.json (is it an `agentlab eval` or `agentlab bench` output?)')
        data = json.loads(res.read_text())
        suites = data.pop('suites', {})
        for key, value in data.items():
            results.setdefault(key, value)
        results.setdefault('suites', {}).update(suites)
        for row in read_cases(part / 'cases.jsonl'):
            cases.setdefault(row.get('suite', ''), {})[row.get('id')] = row
    return Run(Path(str(path)), results, cases)


def _fmt_rate(r: dict | None) -> str:
    if not r or r.get('value') is None:
        return 'n/a'
    lo, hi = r['ci95']
    return f'{100 * r["value"]:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({r["k"]}/{r["n"]})'


def _fmt_p(p: float | None) -> str:
    if p is None:
        return 'n/a'
    return f'{p:.2g}' if p >= 0.001 else '<0.001'


def warnings_for(runs: list[Run]) -> list[str]:
    out = []
    base = runs[0]
    for run in runs[1:]:
        for suite, b in base.results.get('suites', {}).items():
            a = run.results.get('suites', {}).get(suite)
            if a is None:
                out.append(f'{suite}: missing from {run.label}')
                continue
            bs, as_ = b.get('settings', {}), a.get('settings', {})
            changed = sorted(k for k in set(bs) | set(as_) if bs.get(k) != as_.get(k))
            if 'dtype' in changed:
                out.append(f'{suite}: dtype differs ({bs.get("dtype")} vs {as_.get("dtype")} in {run.label})')
                changed.remove('dtype')
            if changed:
                out.append(f'{suite}: generation settings differ in {run.label}: '
                           + ', '.join(f'{k} {bs.get(k)!r} vs {as_.get(k)!r}' for k in changed))
            if b.get('case_ids_sha256') != a.get('case_ids_sha256') or b.get('n') != a.get('n'):
                out.append(f'{suite}: case sets differ ({b.get("n")} vs {a.get("n")} cases in {run.label}); '
                           'paired tests use the cases both scored')
            if b.get('data', {}) != a.get('data', {}):
                out.append(f'{suite}: data files differ (hashes) in {run.label}')
        for suite in run.results.get('suites', {}):
            if suite not in base.results.get('suites', {}):
                out.append(f'{suite}: only in {run.label}')
    return out


def _paired(base: Run, run: Run, suite: str, metric: str) -> dict | None:
    flag = METRIC_FLAGS.get(metric)
    b_cases, a_cases = base.cases.get(suite, {}), run.cases.get(suite, {})
    if flag is None or not b_cases or not a_cases:
        return None
    pairs = []
    for cid in b_cases.keys() & a_cases.keys():
        x, y = flag(b_cases[cid]), flag(a_cases[cid])
        if x is not None and y is not None:
            pairs.append((bool(x), bool(y)))
    if not pairs:
        return None
    return mcnemar_exact([x for x, _ in pairs], [y for _, y in pairs])


def _examples(base: Run, run: Run, suite: str, limit: int = 3) -> tuple[list, list]:
    b_cases, a_cases = base.cases.get(suite, {}), run.cases.get(suite, {})
    fixed, broken = [], []
    for cid in sorted(b_cases.keys() & a_cases.keys()):
        x, y = b_cases[cid]['verdict'].get('correct'), a_cases[cid]['verdict'].get('correct')
        if x is None or y is None or bool(x) == bool(y):
            continue
        (fixed if y else broken).append((cid, b_cases[cid], a_cases[cid]))
    return fixed[:limit], broken[:limit]


def _clip(text: str, n: int = 600) -> str:
    text = (text or '').strip()
    return text if len(text) <= n else text[:n] + ' [...]'


def compare_runs(dirs: list[str | Path], out: str | Path) -> dict:
    if len(dirs) < 2:
        raise AgentlabError('compare needs at least two run folders (before, after)')
    runs = [load_run(d) for d in dirs]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = runs[0]
    suites = list(base.results.get('suites', {}))
    suites += [s for r in runs[1:] for s in r.results.get('suites', {}) if s not in suites]
    warn = warnings_for(runs)
    data: dict[str, Any] = {'runs': [str(r.path) for r in runs], 'warnings': warn, 'suites': {}}
    md = ['# agentlab compare', '',
          'Runs: ' + '; '.join(f'**{i}** `{r.path}` (model {r.results.get("model", {}).get("spec", "?")}, '
                               f'git {str((r.results.get("git") or {}).get("sha") or "?")[:10]})'
                               for i, r in enumerate(runs)), '',
          'Rates carry 95% Wilson intervals; Δ is against run 0; p is McNemar\'s exact test over the cases both '
          'runs scored (paired).', '']
    if warn:
        md += ['## Warnings', ''] + [f'- {w}' for w in warn] + ['']
    for suite in suites:
        per_run = [r.results.get('suites', {}).get(suite) for r in runs]
        present = [s for s in per_run if s]
        metrics = []
        for s in present:
            metrics += [m for m in s.get('metrics', {}) if m not in metrics]
        md += [f'## {suite}', '']
        scorers = sorted({s['scorer'] for s in present if s.get('scorer')})
        if scorers:
            md += ['Scored by: ' + '; '.join(scorers), '']
        header = '| metric | ' + ' | '.join(f'run {i}' for i in range(len(runs))) + ' | ' + \
                 ' | '.join(f'Δ {i}-0 | p {i}-0' for i in range(1, len(runs))) + ' |'
        md += [header, '|' + '---|' * (1 + len(runs) + 2 * (len(runs) - 1))]
        sdata: dict[str, Any] = {}
        for metric in metrics:
            vals = [(s or {}).get('metrics', {}).get(metric) for s in per_run]
            cells = [_fmt_rate(v) for v in vals]
            extra = []
            mdata = {'runs': vals, 'delta': [], 'mcnemar': []}
            for i in range(1, len(runs)):
                b, a = vals[0], vals[i]
                delta = (a['value'] - b['value']) if a and b and a.get('value') is not None \
                    and b.get('value') is not None else None
                test = _paired(base, runs[i], suite, metric)
                mdata['delta'].append(delta)
                mdata['mcnemar'].append(test)
                sign = '' if delta is None else ('+' if delta > 0 else '')
                direction = next((v.get('higher_is_better', True) for v in vals if v), True)
                mark = change_mark(direction, delta, test['p_value'] if test else None)
                extra += ['n/a' if delta is None else f'{sign}{100 * delta:.1f} pts{mark}',
                          _fmt_p(test['p_value']) + (f' (b={test["broken"]}, c={test["fixed"]})' if test else '')
                          if test else 'n/a']
            md.append(f'| {metric} | ' + ' | '.join(cells + extra) + ' |')
            sdata[metric] = mdata
        steps = [(s or {}).get('mean_steps') for s in per_run]
        tps = [(s or {}).get('tokens_per_s') for s in per_run]
        md += ['', 'Mean steps: ' + ', '.join(f'run {i} {v}' for i, v in enumerate(steps))
               + '; generation tokens/s: ' + ', '.join(f'run {i} {v}' for i, v in enumerate(tps)), '']
        for i in range(1, len(runs)):
            fixed, broken = _examples(base, runs[i], suite)
            for title, items in ((f'Fixed in run {i} (wrong in run 0, right in run {i})', fixed),
                                 (f'Newly broken in run {i} (right in run 0, wrong in run {i})', broken)):
                if not items:
                    continue
                md += [f'### {title}', '']
                for cid, b, a in items:
                    md += [f'**{cid}**', '', 'run 0:', '```', _clip(b.get('raw_output', '')), '```',
                           f'run {i}:', '```', _clip(a.get('raw_output', '')), '```', '']
        data['suites'][suite] = sdata
    chart = out / 'chart.png'
    draw_chart(runs, suites, chart)
    md += [f'![before/after]({chart.name})', '']
    (out / 'report.md').write_text('\n'.join(md), encoding='utf-8')
    (out / 'compare.json').write_text(json.dumps(data, indent=1))
    data['report'] = str(out / 'report.md')
    data['chart'] = str(chart)
    return data


# --- chart (Pillow, so the report needs nothing but an image viewer) -------------------------------------------

COLOURS = [(90, 110, 130), (222, 110, 40), (60, 150, 90), (140, 90, 170), (200, 60, 80)]


def draw_chart(runs: list[Run], suites: list[str], path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont
    groups = []   # (label, [value per run])
    for suite in suites:
        per_run = [r.results.get('suites', {}).get(suite) or {} for r in runs]
        for metric in CHART_METRICS:
            vals = [(s.get('metrics', {}).get(metric) or {}).get('value') for s in per_run]
            if any(v is not None for v in vals):
                groups.append((f'{suite}\n{metric}', vals))
    step = max(26 * len(runs) + 24, 124)
    width = max(640, 90 + len(groups) * step)
    height = 460
    img = Image.new('RGB', (width, height), 'white')
    d = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=12)
        small = ImageFont.load_default(size=10)
    except TypeError:          # Pillow without FreeType: the bitmap font
        font = small = ImageFont.load_default()
    left, top, bottom = 60, 40, height - 120
    d.text((left, 10), 'agentlab compare: ' + ' vs '.join(f'run {i}' for i in range(len(runs))), fill='black',
           font=font)
    for pct in range(0, 101, 20):
        y = bottom - (bottom - top) * pct / 100
        d.line([(left, y), (width - 20, y)], fill=(225, 225, 225))
        d.text((left - 40, y - 6), f'{pct}%', fill='black', font=small)
    d.line([(left, top), (left, bottom), (width - 20, bottom)], fill='black')
    x = left + 16
    bar = 24
    for label, vals in groups:
        for i, v in enumerate(vals):
            if v is not None:
                y = bottom - (bottom - top) * v
                d.rectangle([x + i * (bar + 2), y, x + i * (bar + 2) + bar, bottom], fill=COLOURS[i % len(COLOURS)])
                d.text((x + i * (bar + 2), y - 12), f'{100 * v:.0f}', fill='black', font=small)
        suite, metric = label.split('\n')
        kind, _, name = suite.partition(':')
        for j, part in enumerate((kind + ':', name, metric)):
            d.text((x, bottom + 6 + 12 * j), part[:20], fill='black', font=small)
        x += step
    for i, r in enumerate(runs):
        y = height - 50 + 14 * (i % 3)
        xx = left + 260 * (i // 3)
        d.rectangle([xx, y, xx + 10, y + 10], fill=COLOURS[i % len(COLOURS)])
        d.text((xx + 14, y - 1), f'run {i}: {r.label}'[:40], fill='black', font=small)
    img.save(path)
