"""`agentlab train`: XTuner LoRA/QLoRA training, then XTuner's pth-to-hf and merge, in one command.

It reads top to bottom as its steps: resolve the recipe (a preset or your own config, and the base model), plan the
run (tokenize the data with XTuner's own pipeline once: parity with the chat template, samples, iterations), launch
XTuner in the isolated `train` environment, export the last checkpoint (pth_to_hf, then merge), and summarise.

XTuner runs as `python -m xtuner.tools.train` (the `xtuner` CLI always exits 0, even on failure). Its pitfalls are
handled here and in agentlab.engines.xtuner, once:
  * a 4-bit preset without CUDA stops before launch with the CPU alternative (XTuner would crash late, exit 0);
  * epochs are turned into an iteration count agentlab computes from the tokenized data, so a small data set can
    never hit XTuner's "end should be larger than begin, but got begin=0, end=0" warm-up error;
  * resuming sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (torch>=2.6 refuses mmengine checkpoints otherwise);
  * models whose chat template injects a default system prompt get it written into system-less data, so what is
    trained is token-identical to what the chat template renders at inference.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from agentlab.engines import envs
from agentlab.engines.results import read_result
from agentlab.engines.scripts_dir import script
from agentlab.engines.xtuner import check_parity, last_checkpoint, parse_iter_line, render_config
from agentlab.errors import AgentlabError
from agentlab.host import cuda_available
from agentlab.models import REGISTRY, parse_model_spec
from agentlab.provenance import git_info, model_hash, write_json_atomic
from agentlab.train.data import parse_data_arg, prepare_data
from agentlab.train.presets import PRESETS

PARITY_ROWS = 16
ENGINE_ENV = {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'TOKENIZERS_PARALLELISM': 'false'}


@dataclass
class Recipe:
    preset: str | None
    template_path: Path
    base_path: Path
    default_system: str | None       # the system prompt the base model's chat template injects when none is given


def resolve_recipe(preset: str | None, config: str | None, model: str | None) -> Recipe:
    """The config template and base model a run trains (one-line errors for every wrong combination)."""
    if bool(preset) == bool(config):
        raise AgentlabError('give exactly one of --preset NAME or --config FILE')
    if preset:
        if preset not in PRESETS:
            raise AgentlabError(f'unknown preset {preset!r}; choose from {", ".join(PRESETS)}')
        spec = PRESETS[preset]
        template_path, needs_cuda, model = spec.file, spec.needs_cuda, model or spec.base_model
    else:
        template_path = Path(config)
        if not template_path.is_file():
            raise AgentlabError(f'config {config} does not exist')
        needs_cuda = 'load_in_4bit=True' in template_path.read_text()
        if not model:
            raise AgentlabError('--config needs --model (the base model to train)')
    if needs_cuda and not cuda_available():
        raise AgentlabError(f'{preset or config} trains 4-bit QLoRA, which needs a CUDA GPU (none found); on CPU use '
                            '--preset smollm2-135m-lora-cpu')
    model_spec = parse_model_spec(model)
    if model_spec.kind in ('endpoint', 'gguf'):
        raise AgentlabError(f'training needs a local model (a registered name or an HF folder), not '
                            f'{"an endpoint" if model_spec.kind == "endpoint" else "a GGUF file"}')
    registered = REGISTRY.get(model_spec.name) if model_spec.kind == 'registered' else None
    return Recipe(preset, template_path, model_spec.local_path(),
                  registered.chat_template_system_default if registered else None)


def plan_run(recipe: Recipe, data: str, work_dir: Path, *, max_iters: int | None, epochs: float | None,
             lr: float | None, max_length: int | None, batch_size: int | None, seed: int, save_every: int,
             log=print) -> dict:
    """Prepare the data, write XTuner's config.py, and record plan.json: tokenized once with XTuner's own pipeline,
    which also proves template parity and gives the real sample count (so epochs become iterations)."""
    xdir = work_dir / 'xtuner'
    if xdir.exists():
        shutil.rmtree(xdir)   # a fresh run never mixes with an older one's checkpoints
    xdir.mkdir(parents=True)
    data_stats = prepare_data(parse_data_arg(data), work_dir / 'data' / 'train.jsonl', recipe.default_system, seed)
    template = recipe.template_path.read_text()
    values = {'pretrained_model_name_or_path': str(recipe.base_path),
              'data_files': [str(work_dir / 'data' / 'train.jsonl')], 'seed': seed}
    for key, value in (('lr', lr), ('max_length', max_length), ('batch_size', batch_size)):
        if value is not None:
            values[key] = value
    probe_cfg = xdir / 'probe_config.py'
    probe_cfg.write_text(render_config(template, values))
    # The parity check: XTuner's rendering of the first conversations must be token-identical to the tokenizer's
    # own chat template, or the model learns a format it never sees at inference.
    encoded = xdir / 'encoded.jsonl'
    out = envs.run_in_env('train', [str(script('xtuner_encode')), str(probe_cfg), str(encoded),
                                    '--parity', str(PARITY_ROWS)], cwd=xdir, log=None)
    check_parity(read_result(out, 'xtuner_encode').get('parity', {}), recipe.template_path)
    samples = [json.loads(line) for line in encoded.read_text().splitlines()]
    tokens = sum(len(s['input_ids']) for s in samples)
    trained_tokens = sum(sum(1 for x in s['labels'] if x != -100) for s in samples)
    bs = batch_size or int(re.search(r'^batch_size = (\d+)', template, re.M).group(1))
    iters_per_epoch = math.ceil(len(samples) / bs)
    if max_iters is None:
        max_iters = max(1, math.ceil(iters_per_epoch * (epochs or 1)))
    values['max_iters'] = max_iters
    values['save_steps'] = max(1, min(max_iters, save_every))
    (xdir / 'config.py').write_text(render_config(template, values))
    probe_cfg.unlink()
    plan = {'max_iters': max_iters, 'samples': len(samples), 'tokens_per_epoch': tokens,
            'trained_tokens_per_epoch': trained_tokens, 'iters_per_epoch': iters_per_epoch, 'batch_size': bs,
            'data': data_stats, 'base_model': str(recipe.base_path), 'preset': recipe.preset,
            'config': str(recipe.template_path), 'values': values}
    (work_dir / 'plan.json').write_text(json.dumps(plan, indent=1))
    log(f'{len(samples)} samples, {tokens} tokens per epoch ({trained_tokens} trained); {max_iters} iterations')
    return plan


@dataclass
class Progress:
    """What XTuner's log said while it trained."""
    losses: list[tuple[int, float]]
    iteration_seconds: list[tuple[int, float]]   # mmengine's per-iteration time (its 10-iteration average)
    peak_rss: list[int]
    resumed_from: int | None
    seconds: float


def launch(work_dir: Path, max_iters: int, *, resume: bool, threads: int | None, deepspeed: str | None,
           log=print) -> Progress:
    """Run XTuner's training on work_dir/xtuner/config.py with a progress bar; its log goes to work_dir/train.log."""
    xdir = work_dir / 'xtuner'
    extra = dict(ENGINE_ENV)
    if threads:
        extra['OMP_NUM_THREADS'] = str(threads)
    # engines/scripts/xtuner_run.py applies agentlab's XTuner fixes, then runs the module (see its docstring).
    args = [str(script('xtuner_run')), 'xtuner.tools.train', str(xdir / 'config.py'), '--work-dir', str(xdir)]
    nproc = int(os.environ.get('NPROC_PER_NODE', '1') or 1)
    if nproc > 1:
        # Several GPUs: the launcher XTuner's own CLI uses (torchrun), with its pytorch launcher mode.
        args = ['-m', 'torch.distributed.run', f'--nproc-per-node={nproc}', *args, '--launcher', 'pytorch']
    if deepspeed:
        if not cuda_available():
            raise AgentlabError('--deepspeed needs CUDA GPUs; drop it on CPU')
        args += ['--deepspeed', deepspeed]
    if resume:
        args += ['--resume', str(last_checkpoint(work_dir))]
    progress = Progress([], [], [], None, 0.0)
    started = time.time()
    from tqdm import tqdm
    bar = tqdm(total=max_iters, desc='train', unit='it', dynamic_ncols=True)
    log_file = open(work_dir / 'train.log', 'a', encoding='utf-8', buffering=1)   # line-buffered: tail -f works

    def on_line(line: str) -> None:
        log_file.write(line + '\n')
        it = parse_iter_line(line)
        if it:
            if not progress.losses and it['iter'] > 1:
                progress.resumed_from = it['iter'] - 1
            progress.losses.append((it['iter'], it['loss']))
            progress.iteration_seconds.append((it['iter'], it['seconds']))
            bar.n = it['iter']
            bar.set_postfix(loss=f'{it["loss"]:.4f}', eta=it['eta'])
            bar.refresh()
        elif line.startswith('AGENTLAB_PEAK_RSS '):
            progress.peak_rss.append(int(line.split()[1]))
        elif 'Traceback' in line or 'Error' in line:
            bar.write(line)

    try:
        envs.run_in_env('train', args, cwd=work_dir, extra_env=extra, on_line=on_line, log=log)
    finally:
        bar.close()
        log_file.close()
    progress.seconds = time.time() - started
    return progress


def export(work_dir: Path, base_path: Path, log=print) -> tuple[Path, Path, Path]:
    """The last checkpoint as a Hugging Face adapter (xtuner pth_to_hf) merged into the base model (xtuner merge):
    (checkpoint, adapter folder, merged folder)."""
    ckpt = last_checkpoint(work_dir)
    if ckpt is None:
        raise AgentlabError(f'XTuner finished without a checkpoint in {work_dir / "xtuner"}; see '
                            f'{work_dir / "train.log"}')
    cfg_path = work_dir / 'xtuner' / 'config.py'
    gpu = cuda_available()
    log(f'converting {ckpt.name} to a Hugging Face adapter (xtuner pth_to_hf)')
    adapter = work_dir / 'adapter'
    shutil.rmtree(adapter, ignore_errors=True)
    envs.run_in_env('train', [str(script('xtuner_run')), 'xtuner.tools.model_converters.pth_to_hf', str(cfg_path),
                              str(ckpt), str(adapter), '--safe-serialization', *([] if gpu else ['--fp32'])],
                    cwd=work_dir, extra_env=ENGINE_ENV, log=None)
    log('merging the adapter into the base model (xtuner merge)')
    merged = work_dir / 'merged'
    shutil.rmtree(merged, ignore_errors=True)
    envs.run_in_env('train', [str(script('xtuner_run')), 'xtuner.tools.model_converters.merge', str(base_path),
                              str(adapter), str(merged), '--device', 'cuda' if gpu else 'cpu', '--safe-serialization'],
                    cwd=work_dir, extra_env=ENGINE_ENV, log=None)
    return ckpt, adapter, merged


def run_train(preset: str | None, config: str | None, data: str, work_dir: Path, model: str | None = None,
              max_iters: int | None = None, epochs: float | None = None, resume: bool = False, lr: float | None = None,
              max_length: int | None = None, batch_size: int | None = None, seed: int = 0,
              val_data: str | None = None, threads: int | None = None, deepspeed: str | None = None,
              save_every: int = 50, log=print) -> dict:
    work_dir = work_dir.resolve()
    plan_file = work_dir / 'plan.json'
    if resume and not preset and not config and plan_file.is_file():
        recorded = json.loads(plan_file.read_text())     # --resume alone: continue what this work dir was running
        preset = recorded.get('preset')
        config = None if preset else recorded.get('config')
        model = model or recorded.get('base_model')
    if max_iters is not None and epochs is not None:
        raise AgentlabError('give --max-iters or --epochs, not both')
    if max_iters is not None and max_iters < 1:
        raise AgentlabError('--max-iters must be at least 1')
    recipe = resolve_recipe(preset, config, model)
    if resume:
        if last_checkpoint(work_dir) is None:
            raise AgentlabError(f'nothing to resume in {work_dir} (no checkpoint); run without --resume')
        plan = json.loads(plan_file.read_text())
    else:
        plan = plan_run(recipe, data, work_dir, max_iters=max_iters, epochs=epochs, lr=lr, max_length=max_length,
                        batch_size=batch_size, seed=seed, save_every=save_every, log=log)

    progress = launch(work_dir, plan['max_iters'], resume=resume, threads=threads, deepspeed=deepspeed, log=log)
    ckpt, adapter, merged = export(work_dir, recipe.base_path, log=log)

    merged_cfg = json.loads((merged / 'config.json').read_text())
    iters_done = progress.losses[-1][0] if progress.losses else plan['max_iters']
    tokens_per_iter = plan['tokens_per_epoch'] / max(1, plan['iters_per_epoch'])
    run_iters = len(progress.losses)
    summary = {
        'iterations': iters_done, 'resumed_from': progress.resumed_from,
        'trained_tokens': round(run_iters * tokens_per_iter),
        'tokens_per_second': round(run_iters * tokens_per_iter / max(1e-9, progress.seconds), 1),
        'loss_curve': progress.losses, 'validation_loss': None, 'wall_seconds': round(progress.seconds, 1),
        'iteration_seconds': progress.iteration_seconds,
        'peak_rss_bytes': max(progress.peak_rss) if progress.peak_rss else None,
        'merged_dtype': merged_cfg.get('torch_dtype'),
        'versions': envs.state(envs.engine('train'), check_imports=False).versions, 'git_sha': git_info()['sha'],
        'data_sha256': plan['data']['sha256'], 'base_model': plan['base_model'],
        # the same hash results.json records for the weights an eval ran (agentlab.provenance.model_hash)
        'base_model_sha256': model_hash(Path(plan['base_model'])), 'merged_sha256': model_hash(merged),
        'preset': plan['preset'], 'checkpoint': str(ckpt), 'adapter': str(adapter), 'merged': str(merged),
        'plan': plan,
    }
    if val_data:
        summary['validation_loss'] = validation_loss(Path(plan['base_model']), adapter, Path(val_data),
                                                     work_dir / 'xtuner' / 'config.py', work_dir, threads)
    write_json_atomic(work_dir / 'train_summary.json', summary)
    log(f'done: {iters_done} iterations in {progress.seconds:.0f}s, last loss '
        f'{progress.losses[-1][1] if progress.losses else "?"}; merged model: {merged}')
    return summary


def validation_loss(base: Path, adapter: Path, val_data: Path, cfg_path: Path, work_dir: Path,
                    threads: int | None = None) -> dict:
    """Mean per-token loss on held-out XTuner data, base model vs base + adapter, through XTuner's own encoding."""
    val_dir = work_dir / 'val'
    val_dir.mkdir(exist_ok=True)
    prepare_data([(val_data, 1.0)], val_dir / 'val.jsonl', None, 0)
    # The data file is swapped inside val_loss.py, on the parsed config: XTuner's train rewrites config.py in its own
    # (yapf) layout, so editing the text line by line is not safe.
    out = envs.run_in_env('train', [str(script('val_loss')), str(cfg_path), str(base), str(adapter),
                                    str(val_dir / 'val.jsonl')], cwd=val_dir, log=None,
                          extra_env={'OMP_NUM_THREADS': str(threads)} if threads else None)
    return read_result(out, 'val_loss')
