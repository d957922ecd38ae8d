"""`agentlab quickstart`: the whole pipeline really runs, and a re-run redoes only what changed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from agentlab.errors import AgentlabError
from agentlab.app.quickstart.pipeline import default_out
from agentlab.app.quickstart.plan import Plan
from agentlab.app.quickstart.stages import Stages, resumable
from agentlab.host import share_cores as _share_cores
from agentlab.provenance import stable_key as _key

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


def test_a_stage_folder_resumes_only_work_made_from_the_same_inputs_and_never_loses_the_old_one(tmp_path):
    """A retrained model lands at the same path: its eval folder must not resume the old model's cases, and the old
    model's work (an hour of it, for the default plan) is moved aside, not deleted."""
    folder = tmp_path / 'eval-tuned'
    said = []
    assert resumable(folder, 'k1', said.append) is False and folder.is_dir()       # new: made and marked
    (folder / 'cases.jsonl').write_text('{"id": "simple_0"}\n')
    assert resumable(folder, 'k1', said.append) is True                             # same inputs: partial work kept
    assert (folder / 'cases.jsonl').is_file() and not said
    assert resumable(folder, 'k2', said.append) is False                            # other inputs: a fresh folder
    assert list(folder.iterdir()) == [folder / 'quickstart-key'] and resumable(folder, 'k2') is True
    aside = tmp_path / 'replaced' / 'eval-tuned-k1'
    assert (aside / 'cases.jsonl').read_text() == '{"id": "simple_0"}\n'               # the old cases, kept
    assert len(said) == 1 and str(aside) in said[0]
    (folder / 'cases.jsonl').write_text('{"id": "simple_1"}\n')
    assert resumable(folder, 'k1', said.append) is False                            # back again: nothing overwritten
    assert (aside / 'cases.jsonl').is_file() and len(list((tmp_path / 'replaced').iterdir())) == 2


def test_quick_runs_in_its_own_folder_by_default():
    """`agentlab quickstart --quick` after `make quickstart` once replaced the 200-iteration model in place."""
    assert default_out(quick=True) != default_out(quick=False)
    assert default_out(quick=False) == Path('runs/quickstart')


def _child(code: str) -> list[str]:
    return [sys.executable, '-c', code]


def test_a_background_stage_runs_beside_the_next_one_and_is_recorded_when_waited_for(tmp_path):
    stages = Stages(tmp_path, Console(file=open(tmp_path / 'log.txt', 'w')))
    flag = tmp_path / 'eval-done'
    bg = stages.start('eval', 'k1', _child(f'import time; time.sleep(1.5); open({str(flag)!r}, "w").write("x")'),
                      tmp_path / 'logs' / 'eval.log', env={})
    stages.run('train', 't1', lambda: time.sleep(0.1))
    assert not flag.exists() and 'eval' not in stages.done      # it really runs beside the foreground stage
    time.sleep(4)                                                 # it ends well before anyone waits for it
    assert bg.wait() == 'k1'
    assert flag.exists()
    assert json.loads((tmp_path / 'stages.json').read_text())['eval']['key'] == 'k1'
    assert 1.5 <= stages.timings['eval'] < 3.5                   # its own time, not the time until wait()

    # up to date: no process at all
    again = Stages(tmp_path, Console(file=open(tmp_path / 'log.txt', 'w')))
    assert again.start('eval', 'k1', _child('raise SystemExit(3)'), tmp_path / 'logs' / 'eval.log', env={}).proc \
        is None


def test_a_failed_background_stage_names_its_log_and_is_not_recorded(tmp_path):
    stages = Stages(tmp_path, Console(file=open(tmp_path / 'log.txt', 'w')))
    log = tmp_path / 'logs' / 'eval.log'
    bg = stages.start('eval', 'k1', _child('import sys; print("no model here", file=sys.stderr); sys.exit(3)'),
                      log, env={})
    with pytest.raises(AgentlabError, match='(?s)eval failed \\(exit 3\\).*no model here') as err:
        bg.wait()
    assert str(log) in str(err.value)
    assert not (tmp_path / 'stages.json').exists()


def test_an_interrupted_foreground_stage_stops_the_background_one(tmp_path):
    stages = Stages(tmp_path, Console(file=open(tmp_path / 'log.txt', 'w')))
    bg = stages.start('eval', 'k1', _child('import time; time.sleep(60)'), tmp_path / 'eval.log', env={})

    def crash():
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        try:
            stages.run('train', 't1', crash)
            bg.wait()
        finally:
            bg.stop()
    assert bg.proc.wait(timeout=10) != 0                          # stopped, not left running
    assert not (tmp_path / 'stages.json').exists()


def _alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ('Z', 'X')          # a zombie has ended; only its exit status is left to collect


def test_sigterm_stops_training_and_the_background_eval_like_ctrl_c(tmp_path):
    # The engine children run in sessions of their own, so Python's default SIGTERM (exit at once, no `finally`)
    # once left XTuner and the background eval running as orphans after `kill` of the quickstart process.
    job = tmp_path / 'job.py'
    job.write_text(textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from rich.console import Console
        from agentlab.app.cli import main
        from agentlab.procs import run_logged
        from agentlab.app.quickstart.stages import Stages
        out = Path({str(tmp_path)!r})
        def child(name):
            return [sys.executable, '-c', f'import os, time; open({{name!r}}, "w").write(str(os.getpid())); '
                    'time.sleep(120)']
        import agentlab.app.cli as cli
        @cli.app.command('fake-quickstart')
        def fake() -> None:
            stages = Stages(out, Console(file=open(out / 'console.txt', 'w')))
            bg = stages.start('eval', 'k', child(str(out / 'eval.pid')), out / 'eval.log', env=dict(os.environ))
            try:
                stages.run('train', 't', lambda: run_logged(child(str(out / 'train.pid')), log=None))
                bg.wait()
            finally:
                bg.stop()
        main(['fake-quickstart'])
    """))
    proc = subprocess.Popen([sys.executable, str(job)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pidfiles = [tmp_path / 'eval.pid', tmp_path / 'train.pid']
    deadline = time.time() + 60
    while not all(p.is_file() and p.read_text() for p in pidfiles):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    pids = [int(p.read_text()) for p in pidfiles]
    assert all(_alive(pid) for pid in pids)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output                       # as after Ctrl-C
    assert 'agentlab: interrupted' in output
    assert not any(_alive(pid) for pid in pids)                 # no orphans left running
    assert not (tmp_path / 'stages.json').exists()              # nothing recorded as finished


def test_cores_are_shared_between_the_background_eval_and_training(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr('os.cpu_count', lambda: 2)
    assert _share_cores(None) == (1, 1)
    monkeypatch.setattr('os.cpu_count', lambda: 16)
    assert _share_cores(None) == (8, 8)
    assert _share_cores(12) == (4, 12)
    monkeypatch.setattr('os.cpu_count', lambda: 1)
    assert _share_cores(None) == (1, 1)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')                     # the user's (the Makefile's) word wins
    monkeypatch.setattr('os.cpu_count', lambda: 16)
    assert _share_cores(None) == (1, None)


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
    assert 'results:' in (out / 'logs' / 'eval-base.log').read_text()     # the base eval ran as its own process
    assert (out / 'report' / 'report.md').read_text().startswith('# agentlab compare')
    assert f"agentlab demo --model smollm2-135m --compare {out / 'tuned' / 'merged'}" in first.stdout
    from agentlab.models.gguf import read_gguf
    gguf = out / 'gguf' / 'tuned-q8_0.gguf'
    assert summary['gguf'] == str(gguf) and read_gguf(gguf).file_type == 'MOSTLY_Q8_0'
    assert gguf.with_suffix('.Modelfile').is_file()

    trained_at = (out / 'tuned' / 'train_summary.json').stat().st_mtime
    second = run_cli('quickstart', '--quick', '--out', str(out), '--eval-limit', '2', '--train-iters', '6',
                     timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count('up to date') == 9
    assert (out / 'tuned' / 'train_summary.json').stat().st_mtime == trained_at
