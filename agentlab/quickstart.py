"""`agentlab quickstart`: the main job, from nothing to a tuned tool-calling model with a before/after report.

setup -> pull smollm2-135m -> synth -> convert agent-flan -> eval base -> train -> eval tuned -> compare
[-> bench slices before/after with --with-bench] -> the demo command that shows both models side by side.

Every stage reuses its own command's function (nothing here re-implements a stage). Stages are content-addressed:
a stage's key is a hash of its settings and of the keys of the stages it reads, recorded in OUT/stages.json when
the stage finishes. Re-running skips every stage whose key is unchanged and redoes only what changed (and what
depends on it). A crash or Ctrl-C resumes cleanly: synth and convert rewrite their folders atomically, eval keeps
finished cases in cases.jsonl and runs only the rest, and train continues from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

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
        # once every suite shared one eval scheduler.
        if quick:
            return cls(synth_rows=300, train_iters=10, max_length=512, eval_limit=2, bench_limit=5)
        return cls(synth_rows=3000, train_iters=100, max_length=1024, eval_limit=20, bench_limit=20)


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Stages:
    """OUT/stages.json: name -> {key, seconds, finished}. A stage is done when its recorded key equals its key."""

    def __init__(self, out: Path, console: Console):
        self.path = out / 'stages.json'
        self.console = console
        self.done = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.timings: dict[str, float] = {}

    def run(self, name: str, key: str, fn: Callable[[], object]) -> str:
        self.console.rule(name)
        if self.done.get(name, {}).get('key') == key:
            self.console.print(f'[green]up to date[/] (finished {self.done[name]["finished"]}; key {key})')
            self.timings[name] = 0.0
            return key
        start = time.perf_counter()
        fn()
        self.timings[name] = round(time.perf_counter() - start, 1)
        self.done[name] = {'key': key, 'seconds': self.timings[name], 'finished': time.strftime('%Y-%m-%d %H:%M:%S')}
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.done, indent=1))
        tmp.replace(self.path)   # recorded only once the stage really finished
        return key


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
        k_source = stages.run('3. synth (training data for the built-in tools and the catalog)',
                              _key('synth', plan.synth_rows, plan.seed),
                              lambda: run_synth(synth_dir, rows=plan.synth_rows, seed=plan.seed))
        sources = [str(synth_dir)]

    from agentlab.datasets_conv.convert import run_convert
    k_data = stages.run('4. convert agent-flan -> XTuner conversations', _key('convert', k_source, plan.val_ratio),
                        lambda: run_convert('agent-flan', sources, data_dir,
                                            splits=[s for s in (splits or '').split(',') if s] or None,
                                            val_ratio=plan.val_ratio, seed=plan.seed))

    from agentlab.evals.runner import run_eval
    base_dir, tuned_dir = out / 'eval-base', out / 'eval-tuned'
    k_eval_base = stages.run('5. eval the base model', _key('eval', k_model, EVAL_SUITES, plan.eval_limit),
                             lambda: run_eval(MODEL, EVAL_SUITES, limit=plan.eval_limit, out=base_dir))

    from agentlab.train import run_train
    train_dir = out / 'tuned'
    k_train = _key('train', k_model, k_data, plan.train_iters, plan.max_length, plan.seed)

    def train() -> None:
        resumable = _train_key(train_dir) == k_train and any((train_dir / 'xtuner').glob('iter_*.pth'))
        if not resumable:
            train_dir.mkdir(parents=True, exist_ok=True)
            (train_dir / 'quickstart-key').write_text(k_train)
        run_train('smollm2-135m-lora-cpu', None, str(data_dir / 'train.jsonl'), train_dir, max_iters=plan.train_iters,
                  max_length=plan.max_length, seed=plan.seed, resume=resumable, threads=threads,
                  save_every=max(5, plan.train_iters // 6),
                  val_data=str(data_dir / 'val.jsonl') if (data_dir / 'val.jsonl').is_file() else None)
    stages.run('6. train (XTuner LoRA, then pth_to_hf and merge)', k_train, train)

    merged = train_dir / 'merged'
    k_eval_tuned = stages.run('7. eval the tuned model', _key('eval', k_train, EVAL_SUITES, plan.eval_limit),
                              lambda: run_eval(str(merged), EVAL_SUITES, limit=plan.eval_limit, out=tuned_dir))

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


def _train_key(train_dir: Path) -> str | None:
    marker = train_dir / 'quickstart-key'
    return marker.read_text().strip() if marker.is_file() else None


def _manifest_hash(model_path: Path) -> str:
    manifest = model_path / 'agentlab-model.json'
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else ''


def _tree_hash(path: Path) -> str:
    """Names, sizes and modification times: enough to notice a changed data set without reading gigabytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob('*') if p.is_file())
    return _key([(str(p), p.stat().st_size, int(p.stat().st_mtime)) for p in files])
