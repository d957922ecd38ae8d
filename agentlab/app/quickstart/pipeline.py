"""`agentlab quickstart`: the main job, from nothing to a tuned tool-calling model with a before/after report.

setup -> pull smollm2-135m -> synth -> convert agent-flan -> eval base (beside train) -> train -> eval tuned
-> compare -> export the tuned model as GGUF (q8_0) [-> bench slices before/after with --with-bench] -> the demo
command that shows both models side by side.

The base model's eval and training read nothing of each other, so the base eval runs as a child process beside
training, each on its share of the cores: on 2 cores this takes the longer of the two instead of their sum.

Every stage reuses its own command's function (nothing here re-implements a stage). Stages are content-addressed
(agentlab.app.quickstart.stages): re-running skips every stage whose key is unchanged and redoes only what changed
(and what depends on it). A crash or Ctrl-C resumes cleanly: synth and convert rewrite their folders atomically,
eval keeps finished cases in cases.jsonl and runs only the rest, and train continues from its last checkpoint.
Runs of different plans never overwrite each other: --quick writes to its own folder by default, and a stage
folder made from other inputs is moved aside (OUT/replaced/), not deleted.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from agentlab.app.quickstart.plan import EVAL_SUITES, MODEL, Plan
from agentlab.app.quickstart.stages import Stages, resumable
from agentlab.errors import AgentlabError
from agentlab.host import share_cores
from agentlab.provenance import content_hash, sha256_file, stable_key, tree_stamp, write_json_atomic
from agentlab.train.presets import PRESETS


def default_out(quick: bool) -> Path:
    """Each plan its own folder: `--quick` after `make quickstart` must not replace the full run's model."""
    return Path('runs/quickstart-quick' if quick else 'runs/quickstart')


GGUF_QUANT = 'q8_0'


def run_quickstart(out: Path | None = None, quick: bool = False, agent_flan: str | None = None, splits: str | None = None,
                   with_bench: bool = False, eval_limit: int | None = -1, train_iters: int | None = None,
                   synth_rows: int | None = None, threads: int | None = None) -> dict:
    from agentlab.engines import envs
    from agentlab.models.pull import pull

    console = Console()

    def say(text: str) -> None:
        console.print(f'[yellow]{escape(text)}[/]', highlight=False, soft_wrap=True)

    plan = Plan.default(quick)
    overrides = {k: v for k, v in {'train_iters': train_iters, 'synth_rows': synth_rows}.items() if v is not None}
    if eval_limit != -1:                      # -1: the plan's default; None: every case
        overrides['eval_limit'] = eval_limit
    plan = Plan(**{**asdict(plan), **overrides})
    out = (out or default_out(quick)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out, console)
    started = time.perf_counter()

    def setup() -> None:
        for eng in envs.parse_engine_list('train,bfcl,llamacpp' + (',bench' if with_bench else '')):
            envs.ensure(eng)
            console.print(f'[green]ok[/] {eng.name}: {envs.env_path(eng)}')
    env_keys = [envs.env_key(envs.engine(n)) for n in ('train', 'bfcl', 'llamacpp')]
    k_setup = stages.run('1. engine environments', stable_key('setup', env_keys, with_bench), setup)

    model_path = pull(MODEL)   # idempotent and fast once pulled; its manifest hash keys the later stages
    k_model = stages.run('2. embedded model', stable_key('model', str(model_path), _manifest_hash(model_path)),
                         lambda: console.print(f'[green]ok[/] {MODEL}: {model_path}'))

    data_dir = out / 'data'
    k_data_code = _data_code_hash()     # synth's and convert's code: hashed once, read by both stage keys
    if agent_flan:
        source = Path(agent_flan)
        if not source.exists():
            raise AgentlabError(f'--agent-flan {agent_flan}: no such file or folder')
        k_source = stable_key('agent-flan', str(source.resolve()), tree_stamp(source), splits)
        sources = [str(source)]
        console.rule('3. synth')
        console.print(f'skipped: using the real Agent-FLAN data at {source}')
    else:
        from agentlab.datasets_conv.synth import run_synth
        synth_dir = out / 'synth'
        stages.run('3. synth (training data for the built-in tools and the catalog)',
                   stable_key('synth', plan.synth_rows, plan.seed, k_data_code),
                   lambda: run_synth(synth_dir, rows=plan.synth_rows, seed=plan.seed))
        # Later stages are keyed by the data itself: a changed engine re-synthesises (seconds), and only data that
        # really changed retrains.
        k_source = stable_key('synth-output', content_hash(sorted(synth_dir.glob('*.jsonl'))))
        sources = [str(synth_dir)]

    from agentlab.datasets_conv.convert import run_convert
    stages.run('4. convert agent-flan -> XTuner conversations',
               stable_key('convert', k_source, plan.val_ratio, k_data_code),
               lambda: run_convert('agent-flan', sources, data_dir,
                                   splits=[s for s in (splits or '').split(',') if s] or None,
                                   val_ratio=plan.val_ratio, seed=plan.seed))
    k_data = stable_key('data', content_hash(p for p in (data_dir / 'train.jsonl', data_dir / 'val.jsonl')
                                             if p.is_file()))

    from agentlab.evals.runner import run_eval
    base_dir, tuned_dir = out / 'eval-base', out / 'eval-tuned'
    eval_threads, shared_train_threads = share_cores(threads)
    eval_argv = [sys.executable, '-m', 'agentlab', 'eval', '--model', MODEL, '--suite', EVAL_SUITES,
                 '--out', str(base_dir)] + (['--limit', str(plan.eval_limit)] if plan.eval_limit else [])
    # TQDM_MININTERVAL: the child's progress bar goes to a log file; one update a minute keeps it readable.
    eval_env = {**os.environ, 'OMP_NUM_THREADS': str(eval_threads), 'TQDM_MININTERVAL': '60'}
    base_eval = stages.start('5. eval the base model', stable_key('eval', k_model, EVAL_SUITES, plan.eval_limit),
                             eval_argv, out / 'logs' / 'eval-base.log', eval_env,
                             progress=lambda: f'({_lines(base_dir / "cases.jsonl")} cases finished)',
                             before=lambda: resumable(base_dir, k_model, say))
    # The cores are shared only while the base eval really runs; with it up to date, training has them all.
    train_threads = shared_train_threads if base_eval.proc is not None else threads

    from agentlab.train import run_train
    train_dir = out / 'tuned'
    preset = 'smollm2-135m-lora-cpu'
    # The preset's text is part of the key: a changed recipe (packing, LoRA rank) retrains instead of reusing.
    k_train = stable_key('train', k_model, k_data, plan.train_iters, plan.max_length, plan.seed,
                   sha256_file(PRESETS[preset].file))

    def train() -> None:
        resume = resumable(train_dir, k_train, say) and any((train_dir / 'xtuner').glob('iter_*.pth'))
        run_train(preset, None, str(data_dir / 'train.jsonl'), train_dir, max_iters=plan.train_iters,
                  max_length=plan.max_length, seed=plan.seed, resume=resume, threads=train_threads,
                  save_every=max(5, plan.train_iters // 6),
                  val_data=str(data_dir / 'val.jsonl') if (data_dir / 'val.jsonl').is_file() else None)
    try:
        stages.run('6. train (XTuner LoRA, then pth_to_hf and merge)', k_train, train)
        k_eval_base = base_eval.wait()
    finally:
        base_eval.stop()

    merged = train_dir / 'merged'

    def eval_tuned() -> None:
        resumable(tuned_dir, k_train, say)      # cases of an earlier training's weights are not resumed
        run_eval(str(merged), EVAL_SUITES, limit=plan.eval_limit, out=tuned_dir)
    k_eval_tuned = stages.run('7. eval the tuned model', stable_key('eval', k_train, EVAL_SUITES, plan.eval_limit),
                              eval_tuned)

    from agentlab.evals.compare import compare_runs
    report_dir = out / 'report'
    k_compare = stable_key('compare', k_eval_base, k_eval_tuned)
    stages.run('8. compare before / after', k_compare,
               lambda: (resumable(report_dir, k_compare, say), compare_runs([base_dir, tuned_dir], report_dir)))

    # The tuned model as one file for llama.cpp, Ollama and LM Studio (and agentlab's fast CPU engine): seconds.
    from agentlab.export import run_export
    gguf = out / 'gguf' / f'tuned-{GGUF_QUANT}.gguf'
    stages.run(f'9. export the tuned model as GGUF ({GGUF_QUANT}, llama.cpp converter)',
               stable_key('export', k_train, GGUF_QUANT, envs.env_key(envs.engine('llamacpp'))),
               lambda: run_export(str(merged), 'gguf', GGUF_QUANT, gguf, log=say))

    if with_bench:
        from agentlab.evals.bench import run_bench
        slices = 'arc_e,hellaswag'   # small multiple-choice slices: general ability kept (or not)
        stages.run('10. bench slices before / after (OpenCompass)', stable_key('bench', k_model, k_train, plan.bench_limit),
                   lambda: (run_bench(MODEL, slices, plan.bench_limit, out / 'bench-base'),
                            run_bench(str(merged), slices, plan.bench_limit, out / 'bench-tuned')))

    summary = _summarise(out, base_dir, tuned_dir, train_dir, plan, stages, time.perf_counter() - started, k_setup)
    demo = f'agentlab demo --model {MODEL} --compare {shlex.quote(str(merged))}'
    console.rule('result')
    for line in summary['headline']:
        console.print(line, highlight=False, soft_wrap=True)
    # soft_wrap: a path or command folded at the terminal's width cannot be copied and pasted.
    console.print(f'report: {escape(str(report_dir / "report.md"))}\n'
                  f'see both models side by side: [bold]{escape(demo)}[/]\n'
                  f'the tuned model as GGUF: {escape(str(gguf))} (Ollama: ollama create tuned -f '
                  f'{escape(str(gguf.with_suffix(".Modelfile")))})', highlight=False, soft_wrap=True)
    summary['demo_command'] = demo
    summary['gguf'] = str(gguf)
    write_json_atomic(out / 'summary.json', summary)
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


def _lines(path: Path) -> int:
    try:
        with open(path, 'rb') as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def _manifest_hash(model_path: Path) -> str:
    """A registered model's identity, cheaply: its manifest lists every file's sha256 (agentlab.models.pull)."""
    manifest = model_path / 'agentlab-model.json'
    return sha256_file(manifest) if manifest.is_file() else ''


def _data_code_hash() -> str:
    """The data engine's code and catalog, and the protocol that renders every turn: the synth and convert stages'
    inputs besides their settings."""
    from agentlab import datasets_conv
    from agentlab.runtime import protocol
    root = Path(datasets_conv.__file__).parent
    files = sorted(p for p in root.rglob('*') if p.suffix in ('.py', '.json') and '__pycache__' not in p.parts)
    return content_hash(files + [Path(protocol.__file__)])
