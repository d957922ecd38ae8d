"""`agentlab quickstart`: the main job, from nothing to a tuned tool-calling model with a before/after report.

setup -> pull smollm2-135m -> synth -> convert agent-flan -> eval base (beside train) -> train -> eval tuned
-> compare [-> bench slices before/after with --with-bench] -> the demo command that shows both models side by side.

The base model's eval and training read nothing of each other, so the base eval runs as a child process beside
training, each on its share of the cores: on 2 cores this takes the longer of the two instead of their sum.

Every stage reuses its own command's function (nothing here re-implements a stage). Stages are content-addressed:
a stage's key is a hash of its settings and of the keys of the stages it reads, recorded in OUT/stages.json when
the stage finishes. Re-running skips every stage whose key is unchanged and redoes only what changed (and what
depends on it). A crash or Ctrl-C resumes cleanly: synth and convert rewrite their folders atomically, eval keeps
finished cases in cases.jsonl and runs only the rest, and train continues from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rich.console import Console
from rich.markup import escape

from agentlab.errors import AgentlabError

MODEL = 'smollm2-135m'
EVAL_SUITES = 'bfcl:simple_python,bfcl:multiple,bfcl:irrelevance,react:builtin'


@dataclass(frozen=True)
class Plan:
    """What a quickstart run does. --quick is the same pipeline, smaller."""
    synth_rows: int
    train_iters: int
    max_length: int
    eval_limit: int | None          # cases per suite; None = every case of every suite
    bench_limit: int
    val_ratio: float = 0.03
    seed: int = 0

    @classmethod
    def default(cls, quick: bool) -> 'Plan':
        # --quick is sized by measurement on the 2-core CPU (README): 3 cases per suite and 16 iterations took
        # 14.2 minutes, mostly generation (react:builtin is 4-5 turns a case); 2 cases and 10 iterations 11.5, and 10.2
        # once every suite shared one eval scheduler. With the base eval beside training, 10 iterations took 4.8
        # minutes and 40 (the first size whose tuned model calls tools: simple_python 2/2) 6.1.
        # The default's 200 iterations, also by measurement: on BFCL's full multiple category 100 iterations scored
        # 34/200 and 200 scored 60/200 (README); the first 20 cases could not tell them apart (6 vs 7).
        if quick:
            return cls(synth_rows=300, train_iters=40, max_length=512, eval_limit=3, bench_limit=5)
        return cls(synth_rows=3000, train_iters=200, max_length=1024, eval_limit=20, bench_limit=20)


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Stages:
    """OUT/stages.json: name -> {key, seconds, finished}. A stage is done when its recorded key equals its key."""

    def __init__(self, out: Path, console: Console):
        self.path = out / 'stages.json'
        self.console = console
        self.done = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.timings: dict[str, float] = {}

    def up_to_date(self, name: str, key: str) -> bool:
        self.console.rule(name)
        if self.done.get(name, {}).get('key') == key:
            self.console.print(f'[green]up to date[/] (finished {self.done[name]["finished"]}; key {key})')
            self.timings[name] = 0.0
            return True
        return False

    def record(self, name: str, key: str, seconds: float) -> str:
        self.timings[name] = round(seconds, 1)
        self.done[name] = {'key': key, 'seconds': self.timings[name], 'finished': time.strftime('%Y-%m-%d %H:%M:%S')}
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.done, indent=1))
        tmp.replace(self.path)   # recorded only once the stage really finished
        return key

    def run(self, name: str, key: str, fn: Callable[[], object]) -> str:
        if self.up_to_date(name, key):
            return key
        start = time.perf_counter()
        fn()
        return self.record(name, key, time.perf_counter() - start)

    def start(self, name: str, key: str, argv: list[str], log: Path, env: dict[str, str],
              progress: Callable[[], str] = lambda: '', before: Callable[[], object] = lambda: None
              ) -> 'BackgroundStage':
        """Run an agentlab command as a child process while the next stages run; ``wait()`` records it.

        ``before`` runs first, only when the stage is not up to date."""
        if self.up_to_date(name, key):
            return BackgroundStage(self, name, key, None, log, progress)
        before()
        log.parent.mkdir(parents=True, exist_ok=True)
        self.console.print(f'running in the background, beside the next stage; its log: {escape(str(log))}',
                           highlight=False, soft_wrap=True)
        with open(log, 'a', encoding='utf-8') as fh:
            fh.write(f'$ {shlex.join(argv)}\n')
            fh.flush()
            # A session of its own: Ctrl-C reaches this process, which then stops the child (stop()) the way
            # Ctrl-C would have, so the child keeps what it finished and a re-run resumes it.
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        return BackgroundStage(self, name, key, proc, log, progress)


@dataclass
class BackgroundStage:
    stages: Stages
    name: str
    key: str
    proc: subprocess.Popen | None       # None: the stage was already up to date
    log: Path
    progress: Callable[[], str]
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    watcher: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.proc is not None:       # the stage's own time, even when it ends long before wait() is called
            self.watcher = threading.Thread(target=self._watch, args=(self.proc,), daemon=True)
            self.watcher.start()

    def _watch(self, proc: subprocess.Popen) -> None:
        proc.wait()
        self.ended = time.perf_counter()

    def wait(self) -> str:
        if self.proc is None:
            return self.key
        if self.watcher.is_alive():
            with self.stages.console.status(f'waiting for {self.name}') as status:
                while self.watcher.is_alive():
                    status.update(f'waiting for {self.name} {self.progress()}')
                    self.watcher.join(2)
        code = self.proc.returncode
        self.proc = None
        if code != 0:
            tail = self.log.read_text(errors='replace').strip().splitlines()[-5:]
            raise AgentlabError(f'{self.name} failed (exit {code}); the end of {self.log}:\n' + '\n'.join(tail))
        seconds = self.ended - self.started
        self.stages.console.print(f'[green]finished[/] {self.name} ({seconds:.0f} s)')
        return self.stages.record(self.name, self.key, seconds)

    def stop(self) -> None:
        """Stop the child if it still runs (another stage failed or was interrupted); it resumes on a re-run."""
        if self.proc is not None and self.proc.poll() is None:
            from agentlab.envs import stop_process_group
            stop_process_group(self.proc)


def run_quickstart(out: Path, quick: bool = False, agent_flan: str | None = None, splits: str | None = None,
                   with_bench: bool = False, eval_limit: int | None = -1, train_iters: int | None = None,
                   synth_rows: int | None = None, threads: int | None = None) -> dict:
    from agentlab import envs
    from agentlab.model_pull import pull

    console = Console()
    plan = Plan.default(quick)
    overrides = {k: v for k, v in {'train_iters': train_iters, 'synth_rows': synth_rows}.items() if v is not None}
    if eval_limit != -1:                      # -1: the plan's default; None: every case
        overrides['eval_limit'] = eval_limit
    plan = Plan(**{**asdict(plan), **overrides})
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out, console)
    started = time.perf_counter()

    def setup() -> None:
        for eng in envs.parse_engine_list('train,bfcl' + (',bench' if with_bench else '')):
            envs.ensure(eng)
            console.print(f'[green]ok[/] {eng.name}: {envs.env_path(eng)}')
    env_keys = [envs.env_key(envs.engine(n)) for n in ('train', 'bfcl')]
    k_setup = stages.run('1. engine environments', _key('setup', env_keys, with_bench), setup)

    model_path = pull(MODEL)   # idempotent and fast once pulled; its manifest hash keys the later stages
    k_model = stages.run('2. embedded model', _key('model', str(model_path), _manifest_hash(model_path)),
                         lambda: console.print(f'[green]ok[/] {MODEL}: {model_path}'))

    data_dir = out / 'data'
    k_data_code = _data_code_hash()     # synth's and convert's code: hashed once, read by both stage keys
    if agent_flan:
        source = Path(agent_flan)
        if not source.exists():
            raise AgentlabError(f'--agent-flan {agent_flan}: no such file or folder')
        k_source = _key('agent-flan', str(source.resolve()), _tree_hash(source), splits)
        sources = [str(source)]
        console.rule('3. synth')
        console.print(f'skipped: using the real Agent-FLAN data at {source}')
    else:
        from agentlab.datasets_conv.synth import run_synth
        synth_dir = out / 'synth'
        stages.run('3. synth (training data for the built-in tools and the catalog)',
                   _key('synth', plan.synth_rows, plan.seed, k_data_code),
                   lambda: run_synth(synth_dir, rows=plan.synth_rows, seed=plan.seed))
        # Later stages are keyed by the data itself: a changed engine re-synthesises (seconds), and only data that
        # really changed retrains.
        k_source = _key('synth-output', _content_hash(sorted(synth_dir.glob('*.jsonl'))))
        sources = [str(synth_dir)]

    from agentlab.datasets_conv.convert import run_convert
    stages.run('4. convert agent-flan -> XTuner conversations',
               _key('convert', k_source, plan.val_ratio, k_data_code),
               lambda: run_convert('agent-flan', sources, data_dir,
                                   splits=[s for s in (splits or '').split(',') if s] or None,
                                   val_ratio=plan.val_ratio, seed=plan.seed))
    k_data = _key('data', _content_hash(p for p in (data_dir / 'train.jsonl', data_dir / 'val.jsonl') if p.is_file()))

    from agentlab.evals.runner import run_eval
    base_dir, tuned_dir = out / 'eval-base', out / 'eval-tuned'
    eval_threads, shared_train_threads = _share_cores(threads)
    eval_argv = [sys.executable, '-m', 'agentlab', 'eval', '--model', MODEL, '--suite', EVAL_SUITES,
                 '--out', str(base_dir)] + (['--limit', str(plan.eval_limit)] if plan.eval_limit else [])
    # TQDM_MININTERVAL: the child's progress bar goes to a log file; one update a minute keeps it readable.
    eval_env = {**os.environ, 'OMP_NUM_THREADS': str(eval_threads), 'TQDM_MININTERVAL': '60'}
    base_eval = stages.start('5. eval the base model', _key('eval', k_model, EVAL_SUITES, plan.eval_limit),
                             eval_argv, out / 'logs' / 'eval-base.log', eval_env,
                             progress=lambda: f'({_lines(base_dir / "cases.jsonl")} cases finished)',
                             before=lambda: _resumable(base_dir, k_model))
    # The cores are shared only while the base eval really runs; with it up to date, training has them all.
    train_threads = shared_train_threads if base_eval.proc is not None else threads

    from agentlab.train import PRESETS, run_train
    train_dir = out / 'tuned'
    preset = 'smollm2-135m-lora-cpu'
    # The preset's text is part of the key: a changed recipe (packing, LoRA rank) retrains instead of reusing.
    k_train = _key('train', k_model, k_data, plan.train_iters, plan.max_length, plan.seed,
                   hashlib.sha256(PRESETS[preset].file.read_bytes()).hexdigest())

    def train() -> None:
        resumable = _resumable(train_dir, k_train) and any((train_dir / 'xtuner').glob('iter_*.pth'))
        run_train(preset, None, str(data_dir / 'train.jsonl'), train_dir, max_iters=plan.train_iters,
                  max_length=plan.max_length, seed=plan.seed, resume=resumable, threads=train_threads,
                  save_every=max(5, plan.train_iters // 6),
                  val_data=str(data_dir / 'val.jsonl') if (data_dir / 'val.jsonl').is_file() else None)
    try:
        stages.run('6. train (XTuner LoRA, then pth_to_hf and merge)', k_train, train)
        k_eval_base = base_eval.wait()
    finally:
        base_eval.stop()

    merged = train_dir / 'merged'

    def eval_tuned() -> None:
        _resumable(tuned_dir, k_train)      # cases of an earlier training's weights are not resumed
        run_eval(str(merged), EVAL_SUITES, limit=plan.eval_limit, out=tuned_dir)
    k_eval_tuned = stages.run('7. eval the tuned model', _key('eval', k_train, EVAL_SUITES, plan.eval_limit),
                              eval_tuned)

    from agentlab.evals.compare import compare_runs
    report_dir = out / 'report'
    stages.run('8. compare before / after', _key('compare', k_eval_base, k_eval_tuned),
               lambda: compare_runs([base_dir, tuned_dir], report_dir))

    if with_bench:
        from agentlab.evals.bench import run_bench
        slices = 'arc_e,hellaswag'   # small multiple-choice slices: general ability kept (or not)
        stages.run('9. bench slices before / after (OpenCompass)', _key('bench', k_model, k_train, plan.bench_limit),
                   lambda: (run_bench(MODEL, slices, plan.bench_limit, out / 'bench-base'),
                            run_bench(str(merged), slices, plan.bench_limit, out / 'bench-tuned')))

    summary = _summarise(out, base_dir, tuned_dir, train_dir, plan, stages, time.perf_counter() - started, k_setup)
    demo = f'agentlab demo --model {MODEL} --compare {shlex.quote(str(merged))}'
    console.rule('result')
    for line in summary['headline']:
        console.print(line, highlight=False, soft_wrap=True)
    # soft_wrap: a path or command folded at the terminal's width cannot be copied and pasted.
    console.print(f'report: {escape(str(report_dir / "report.md"))}\n'
                  f'see both models side by side: [bold]{escape(demo)}[/]', highlight=False, soft_wrap=True)
    summary['demo_command'] = demo
    (out / 'summary.json').write_text(json.dumps(summary, indent=1))
    return summary


def _summarise(out: Path, base_dir: Path, tuned_dir: Path, train_dir: Path, plan: Plan, stages: Stages,
               seconds: float, _k: str) -> dict:
    base = json.loads((base_dir / 'results.json').read_text())['suites']
    tuned = json.loads((tuned_dir / 'results.json').read_text())['suites']
    headline, table = [], {}
    for suite, s in tuned.items():
        metric = s.get('primary_metric')
        b = base.get(suite, {}).get('metrics', {}).get(metric, {})
        t = s.get('metrics', {}).get(metric, {})
        table[suite] = {'metric': metric, 'base': b.get('value'), 'tuned': t.get('value'), 'n': t.get('n'),
                        'strict_parse_tuned': s.get('metrics', {}).get('strict_parse', {}).get('value')}
        if b.get('value') is not None and t.get('value') is not None:
            headline.append(f'{suite:24s} {metric:22s} base {100 * b["value"]:5.1f}%  ->  tuned '
                            f'{100 * t["value"]:5.1f}%   (n={t.get("n")})')
    train_summary = json.loads((train_dir / 'train_summary.json').read_text())
    return {'plan': asdict(plan), 'results': table, 'headline': headline, 'seconds_total': round(seconds, 1),
            'seconds_per_stage': stages.timings, 'train': {k: train_summary.get(k) for k in (
                'iterations', 'wall_seconds', 'tokens_per_second', 'validation_loss', 'merged_dtype')},
            'out': str(out)}


def _share_cores(train_threads: int | None) -> tuple[int, int | None]:
    """Threads for the background base eval and for training while they run side by side.

    OMP_NUM_THREADS, when set (the Makefile sets 1), is the user's word for every heavy process. Otherwise the
    cores are split: training gets --threads (or half the cores, rounded up), the eval gets the rest, at least one."""
    if os.environ.get('OMP_NUM_THREADS', '').isdigit():
        return max(1, int(os.environ['OMP_NUM_THREADS'])), train_threads
    cores = os.cpu_count() or 1
    train = train_threads or max(1, cores - cores // 2)
    return max(1, cores - train), train


def _lines(path: Path) -> int:
    try:
        with open(path, 'rb') as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def _resumable(folder: Path, key: str) -> bool:
    """Whether FOLDER's (partial) work was made from the inputs KEY stands for, so a stage may resume it.

    If not, the folder is emptied and marked with KEY: a retrained model writes to the same paths, and its eval must
    not resume the cases its previous weights wrote."""
    marker = folder / 'quickstart-key'
    if marker.is_file() and marker.read_text().strip() == key:
        return True
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    marker.write_text(key)
    return False


def _manifest_hash(model_path: Path) -> str:
    manifest = model_path / 'agentlab-model.json'
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else ''


def _content_hash(files: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b'\0' + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _data_code_hash() -> str:
    """The data engine's code and catalog, and the protocol that renders every turn: the synth and convert stages'
    inputs besides their settings."""
    from agentlab import datasets_conv, protocol
    root = Path(datasets_conv.__file__).parent
    files = sorted(p for p in root.rglob('*') if p.suffix in ('.py', '.json') and '__pycache__' not in p.parts)
    return _content_hash(files + [Path(protocol.__file__)])


def _tree_hash(path: Path) -> str:
    """Names, sizes and modification times: enough to notice a changed data set without reading gigabytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob('*') if p.is_file())
    return _key([(str(p), p.stat().st_size, int(p.stat().st_mtime)) for p in files])
