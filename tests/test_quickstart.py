"""`agentlab quickstart`: the whole pipeline really runs, and a re-run redoes only what changed."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from agentlab.quickstart import Plan, Stages, _key

from conftest import run_cli


def test_stages_skip_what_is_unchanged_and_redo_what_changed(tmp_path):
    calls = []
    console = Console(file=open(tmp_path / 'log.txt', 'w'))
    stages = Stages(tmp_path, console)
    k1 = stages.run('a', _key('a', 1), lambda: calls.append('a'))
    stages.run('b', _key('b', k1), lambda: calls.append('b'))
    assert calls == ['a', 'b']

    stages = Stages(tmp_path, console)             # a new process reading stages.json
    k1 = stages.run('a', _key('a', 1), lambda: calls.append('a'))
    stages.run('b', _key('b', k1), lambda: calls.append('b'))
    assert calls == ['a', 'b']                      # nothing changed: nothing ran

    k1 = stages.run('a', _key('a', 2), lambda: calls.append('a2'))
    stages.run('b', _key('b', k1), lambda: calls.append('b2'))
    assert calls == ['a', 'b', 'a2', 'b2']          # a changed, so b (which reads a) runs again


def test_a_crashed_stage_is_not_recorded(tmp_path):
    stages = Stages(tmp_path, Console(file=open(tmp_path / 'log.txt', 'w')))

    def crash():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stages.run('train', 'k', crash)
    assert not (tmp_path / 'stages.json').exists()   # nothing finished, nothing recorded
    ran = []
    Stages(tmp_path, Console(file=open(tmp_path / 'log.txt', 'w'))).run('train', 'k', lambda: ran.append(1))
    assert ran == [1]


def test_help_states_the_plan_it_runs():
    # the option help once said 3 cases and 16 iterations for --quick after the plan had become 2 and 10
    wide = {'COLUMNS': '400', 'TERMINAL_WIDTH': '400'}             # one line per option: no box characters inside
    shown = ' '.join(run_cli('quickstart', '--help', env=wide, timeout=120).stdout.split())
    full, quick = Plan.default(quick=False), Plan.default(quick=True)
    assert f'default: {full.eval_limit}, or {quick.eval_limit} with --quick' in shown
    assert f'default: {full.train_iters}, or {quick.train_iters} with --quick' in shown
    assert f'default {full.synth_rows}, or {quick.synth_rows} with --quick' in shown


@pytest.mark.engines
@pytest.mark.slow
def test_quick_pipeline_end_to_end_then_rerun_is_all_up_to_date(tmp_path):
    out = tmp_path / 'qs'
    first = run_cli('quickstart', '--quick', '--out', str(out), '--eval-limit', '2', '--train-iters', '6',
                    timeout=2400)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['results']) == {'bfcl:simple_python', 'bfcl:multiple', 'bfcl:irrelevance', 'react:builtin'}
    assert all(r['n'] == 2 for r in summary['results'].values())
    assert summary['train']['iterations'] == 6
    assert (out / 'tuned' / 'merged' / 'config.json').is_file()
    assert (out / 'report' / 'report.md').read_text().startswith('# agentlab compare')
    assert f"agentlab demo --model smollm2-135m --compare {out / 'tuned' / 'merged'}" in first.stdout

    trained_at = (out / 'tuned' / 'train_summary.json').stat().st_mtime
    second = run_cli('quickstart', '--quick', '--out', str(out), '--eval-limit', '2', '--train-iters', '6',
                     timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count('up to date') == 8
    assert (out / 'tuned' / 'train_summary.json').stat().st_mtime == trained_at
