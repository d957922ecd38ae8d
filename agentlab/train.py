"""`agentlab train`: XTuner LoRA/QLoRA training, then XTuner's pth-to-hf and merge, in one command.

XTuner runs in the isolated `train` environment as `python -m xtuner.tools.train` (the `xtuner` CLI always exits 0,
even on failure). Its pitfalls are handled here, once:
  * a 4-bit preset without CUDA stops before launch with the CPU alternative (XTuner would crash late, exit 0);
  * epochs are turned into an iteration count agentlab computes from the tokenized data, so a small data set can
    never hit XTuner's "end should be larger than begin, but got begin=0, end=0" warm-up error;
  * resuming sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (torch>=2.6 refuses mmengine checkpoints otherwise);
  * models whose chat template injects a default system prompt get it written into system-less data, so what is
    trained is token-identical to what the chat template renders at inference.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from agentlab import envs, paths
from agentlab.errors import AgentlabError
from agentlab.models import REGISTRY, parse_model_spec

SCRIPTS = Path(__file__).parent / 'engine_scripts'
XTUNER_RUN = SCRIPTS / 'xtuner_run.py'


@dataclass(frozen=True)
class Preset:
    name: str
    base_model: str              # model spec used when --model is not given
    needs_cuda: bool
    summary: str
    tokenizer_offline: bool = True   # False: the tokenizer must be present locally before parity can be checked

    @property
    def file(self) -> Path:
        return paths.configs_dir() / 'xtuner' / f'{self.name}.py'


PRESETS = {p.name: p for p in (
    Preset('smollm2-135m-lora-cpu', 'smollm2-135m', False, 'embedded model, LoRA r16, fp32, CPU'),
    Preset('llama3-8b-instruct-qlora-agentflan', 'meta-llama/Meta-Llama-3-8B-Instruct', True,
           "Agent-FLAN tutorial recipe: QLoRA nf4, r64/a16/d0.1, lr 2e-4, 4096 tokens, packed, 1x16, 3 epochs",
           tokenizer_offline=False),
    Preset('internlm2_5-7b-chat-qlora-agentflan', 'internlm/internlm2_5-7b-chat', True,
           'the same recipe for InternLM2.5-7B-chat', tokenizer_offline=False),
)}

INJECT_BEGIN = '# ---- injected by `agentlab train` (begin) ----'
INJECT_END = '# ---- injected by `agentlab train` (end) ----'
_ITER_LINE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\].*?eta:\s*(\S+).*?time:\s*([\d.]+).*?loss:\s*([\d.]+)')


def render_config(template: str, values: dict) -> str:
    """Fill the injected block of a preset with ``values`` (each an assignment line ``name = repr(value)``)."""
    if INJECT_BEGIN not in template or INJECT_END not in template:
        raise AgentlabError('config has no "injected by `agentlab train`" block; use a preset from configs/xtuner')
    head, rest = template.split(INJECT_BEGIN, 1)
    block, tail = rest.split(INJECT_END, 1)
    for key, value in values.items():
        pattern = re.compile(rf'^{re.escape(key)} = .*$', re.M)
        if not pattern.search(block):
            raise AgentlabError(f'config has no injectable setting {key!r}')
        block = pattern.sub(lambda _m: f'{key} = {value!r}', block)
    return head + INJECT_BEGIN + block + INJECT_END + tail


# --- data ------------------------------------------------------------------------------------------------------

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
    return {'rows': len(rows), 'files': per_file, 'sha256': hashlib.sha256(out.read_bytes()).hexdigest()}


# --- the command -----------------------------------------------------------------------------------------------

PARITY_ROWS = 16


def _result_of(output: str) -> dict:
    """The JSON an engine script printed on its ``AGENTLAB_RESULT`` line."""
    line = next((ln for ln in output.splitlines() if ln.startswith('AGENTLAB_RESULT ')), None)
    if line is None:
        raise AgentlabError('an engine script ended without its result line; see the output above')
    return json.loads(line.split(' ', 1)[1])


def check_parity(parity: dict, template_path: Path) -> None:
    if parity.get('mismatch_count'):
        first = parity['mismatches'][0]
        raise AgentlabError(
            f'{template_path.name}: the prompt template does not match the tokenizer\'s chat template '
            f'({parity["mismatch_count"]}/{parity["checked"]} conversations differ; first at token '
            f'{first["first_difference"]}: XTuner {first["xtuner"]!r} vs chat template {first["chat_template"]!r})')


def _last_checkpoint(work_dir: Path) -> Path | None:
    marker = work_dir / 'xtuner' / 'last_checkpoint'
    if marker.is_file():
        p = Path(marker.read_text().strip())
        if p.is_file():
            return p
    ckpts = sorted((work_dir / 'xtuner').glob('iter_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    return ckpts[-1] if ckpts else None


def _git_sha() -> str | None:
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except OSError:
        return None


def run_train(preset: str | None, config: str | None, data: str, work_dir: Path, model: str | None = None,
              max_iters: int | None = None, epochs: float | None = None, resume: bool = False, lr: float | None = None,
              max_length: int | None = None, batch_size: int | None = None, seed: int = 0,
              val_data: str | None = None, threads: int | None = None, deepspeed: str | None = None,
              save_every: int = 50, log=print) -> dict:
    plan_file = work_dir / 'plan.json'
    if resume and not preset and not config and plan_file.is_file():
        recorded = json.loads(plan_file.read_text())     # --resume alone: continue what this work dir was running
        preset = recorded.get('preset')
        config = None if preset else recorded.get('config')
        model = model or recorded.get('base_model')
    if bool(preset) == bool(config):
        raise AgentlabError('give exactly one of --preset NAME or --config FILE')
    if preset:
        if preset not in PRESETS:
            raise AgentlabError(f'unknown preset {preset!r}; choose from {", ".join(PRESETS)}')
        spec = PRESETS[preset]
        template_path = spec.file
        needs_cuda = spec.needs_cuda
        model = model or spec.base_model
    else:
        template_path = Path(config)
        if not template_path.is_file():
            raise AgentlabError(f'config {config} does not exist')
        needs_cuda = 'load_in_4bit=True' in template_path.read_text()
        if not model:
            raise AgentlabError('--config needs --model (the base model to train)')
    if needs_cuda and not envs.cuda_available():
        raise AgentlabError(f'{preset or config} trains 4-bit QLoRA, which needs a CUDA GPU (none found); on CPU use '
                            '--preset smollm2-135m-lora-cpu')
    if max_iters is not None and epochs is not None:
        raise AgentlabError('give --max-iters or --epochs, not both')
    if max_iters is not None and max_iters < 1:
        raise AgentlabError('--max-iters must be at least 1')
    model_spec = parse_model_spec(model)
    if model_spec.kind == 'endpoint':
        raise AgentlabError('training needs a local model (a registered name or an HF folder), not an endpoint')
    base_path = model_spec.local_path()
    registered = REGISTRY.get(model_spec.name) if model_spec.kind == 'registered' else None
    default_system = registered.chat_template_system_default if registered else None

    work_dir = work_dir.resolve()
    xdir = work_dir / 'xtuner'
    if resume:
        ckpt = _last_checkpoint(work_dir)
        if ckpt is None:
            raise AgentlabError(f'nothing to resume in {work_dir} (no checkpoint); run without --resume')
        cfg_path = xdir / 'config.py'
        plan = json.loads((work_dir / 'plan.json').read_text())
    else:
        if xdir.exists():
            shutil.rmtree(xdir)   # a fresh run never mixes with an older one's checkpoints
        xdir.mkdir(parents=True)
        data_stats = prepare_data(parse_data_arg(data), work_dir / 'data' / 'train.jsonl', default_system, seed)
        template = template_path.read_text()
        values = {'pretrained_model_name_or_path': str(base_path),
                  'data_files': [str(work_dir / 'data' / 'train.jsonl')], 'seed': seed}
        if lr is not None:
            values['lr'] = lr
        if max_length is not None:
            values['max_length'] = max_length
        if batch_size is not None:
            values['batch_size'] = batch_size
        # Tokenize with XTuner's own pipeline once: it gives the real sample count, so epochs become iterations.
        probe_cfg = xdir / 'probe_config.py'
        probe_cfg.write_text(render_config(template, values))
        # The same run checks template parity: XTuner's rendering of the first conversations must be token-identical
        # to the tokenizer's own chat template, or the model learns a format it never sees at inference.
        encoded = xdir / 'encoded.jsonl'
        out = envs.run_in_env('train', [str(SCRIPTS / 'xtuner_encode.py'), str(probe_cfg), str(encoded),
                                        '--parity', str(PARITY_ROWS)], cwd=xdir, log=None)
        check_parity(_result_of(out).get('parity', {}), template_path)
        samples = [json.loads(line) for line in encoded.read_text().splitlines()]
        tokens = sum(len(s['input_ids']) for s in samples)
        trained_tokens = sum(sum(1 for x in s['labels'] if x != -100) for s in samples)
        bs = batch_size or int(re.search(r'^batch_size = (\d+)', template, re.M).group(1))
        iters_per_epoch = math.ceil(len(samples) / bs)
        if max_iters is None:
            max_iters = max(1, math.ceil(iters_per_epoch * (epochs or 1)))
        values['max_iters'] = max_iters
        values['save_steps'] = max(1, min(max_iters, save_every))
        cfg_path = xdir / 'config.py'
        cfg_path.write_text(render_config(template, values))
        probe_cfg.unlink()
        plan = {'max_iters': max_iters, 'samples': len(samples), 'tokens_per_epoch': tokens,
                'trained_tokens_per_epoch': trained_tokens, 'iters_per_epoch': iters_per_epoch, 'batch_size': bs,
                'data': data_stats, 'base_model': str(base_path), 'preset': preset, 'config': str(template_path),
                'values': values}
        (work_dir / 'plan.json').write_text(json.dumps(plan, indent=1))
        log(f'{len(samples)} samples, {tokens} tokens per epoch ({trained_tokens} trained); {max_iters} iterations')

    extra = {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    if threads:
        extra['OMP_NUM_THREADS'] = str(threads)
    # engine_scripts/xtuner_run.py applies agentlab's XTuner fixes, then runs the module (see its docstring).
    args = [str(XTUNER_RUN), 'xtuner.tools.train', str(cfg_path), '--work-dir', str(xdir)]
    nproc = int(os.environ.get('NPROC_PER_NODE', '1') or 1)
    if nproc > 1:
        # Several GPUs: the launcher XTuner's own CLI uses (torchrun), with its pytorch launcher mode.
        args = ['-m', 'torch.distributed.run', f'--nproc-per-node={nproc}', *args, '--launcher', 'pytorch']
    if deepspeed:
        if not envs.cuda_available():
            raise AgentlabError('--deepspeed needs CUDA GPUs; drop it on CPU')
        args += ['--deepspeed', deepspeed]
    if resume:
        args += ['--resume', str(_last_checkpoint(work_dir))]
    losses: list[tuple[int, float]] = []
    iter_seconds: list[tuple[int, float]] = []   # XTuner's per-iteration time (mmengine's 10-iteration average)
    peak_rss: list[int] = []
    resumed_from: list[int] = []
    started = time.time()
    from tqdm import tqdm
    bar = tqdm(total=plan['max_iters'], desc='train', unit='it', dynamic_ncols=True)
    log_file = open(work_dir / 'train.log', 'a', encoding='utf-8', buffering=1)   # line-buffered: tail -f works

    def on_line(line: str) -> None:
        log_file.write(line + '\n')
        m = _ITER_LINE.search(line)
        if m:
            it, loss = int(m.group(1)), float(m.group(5))
            if not losses and it > 1:
                resumed_from.append(it - 1)
            losses.append((it, loss))
            iter_seconds.append((it, float(m.group(4))))
            bar.n = it
            bar.set_postfix(loss=f'{loss:.4f}', eta=m.group(3))
            bar.refresh()
        elif line.startswith('AGENTLAB_PEAK_RSS '):
            peak_rss.append(int(line.split()[1]))
        elif 'Traceback' in line or 'Error' in line:
            bar.write(line)

    try:
        envs.run_in_env('train', args, cwd=work_dir, extra_env=extra, on_line=on_line, log=log)
    finally:
        bar.close()
        log_file.close()
    train_seconds = time.time() - started
    ckpt = _last_checkpoint(work_dir)
    if ckpt is None:
        raise AgentlabError(f'XTuner finished without a checkpoint in {xdir}; see {work_dir / "train.log"}')

    log(f'converting {ckpt.name} to a Hugging Face adapter (xtuner pth_to_hf)')
    adapter = work_dir / 'adapter'
    shutil.rmtree(adapter, ignore_errors=True)
    envs.run_in_env('train', [str(XTUNER_RUN), 'xtuner.tools.model_converters.pth_to_hf', str(cfg_path), str(ckpt),
                              str(adapter), '--safe-serialization', *([] if envs.cuda_available() else ['--fp32'])], cwd=work_dir, extra_env=extra, log=None)
    log('merging the adapter into the base model (xtuner merge)')
    merged = work_dir / 'merged'
    shutil.rmtree(merged, ignore_errors=True)
    envs.run_in_env('train', [str(XTUNER_RUN), 'xtuner.tools.model_converters.merge', str(base_path), str(adapter),
                              str(merged), '--device', 'cpu' if not envs.cuda_available() else 'cuda',
                              '--safe-serialization'], cwd=work_dir, extra_env=extra, log=None)
    merged_cfg = json.loads((merged / 'config.json').read_text())
    iters_done = losses[-1][0] if losses else plan['max_iters']
    run_iters = len(losses)
    tokens_per_iter = plan['tokens_per_epoch'] / max(1, plan['iters_per_epoch'])
    summary = {
        'iterations': iters_done, 'resumed_from': resumed_from[0] if resumed_from else None,
        'trained_tokens': round(run_iters * tokens_per_iter),
        'tokens_per_second': round(run_iters * tokens_per_iter / max(1e-9, train_seconds), 1),
        'loss_curve': losses, 'validation_loss': None, 'wall_seconds': round(train_seconds, 1),
        'iteration_seconds': iter_seconds,
        'peak_rss_bytes': max(peak_rss) if peak_rss else None, 'merged_dtype': merged_cfg.get('torch_dtype'),
        'versions': envs.state(envs.engine('train'), check_imports=False).versions, 'git_sha': _git_sha(),
        'data_sha256': plan['data']['sha256'], 'base_model': plan['base_model'],
        'base_model_sha256': _model_hash(Path(plan['base_model'])), 'preset': plan['preset'],
        'checkpoint': str(ckpt), 'adapter': str(adapter), 'merged': str(merged), 'plan': plan,
    }
    if val_data:
        summary['validation_loss'] = validation_loss(Path(plan['base_model']), adapter, Path(val_data), cfg_path,
                                                     work_dir, threads)
    (work_dir / 'train_summary.json').write_text(json.dumps(summary, indent=1))
    log(f'done: {iters_done} iterations in {train_seconds:.0f}s, last loss {losses[-1][1] if losses else "?"}; '
        f'merged model: {merged}')
    return summary


def _model_hash(folder: Path) -> str | None:
    manifest = folder / 'agentlab-model.json'
    if manifest.is_file():
        return json.loads(manifest.read_text()).get('source_sha256')
    weights = sorted(folder.glob('*.safetensors'))
    if not weights:
        return None
    h = hashlib.sha256()
    for w in weights:
        h.update(w.name.encode() + str(w.stat().st_size).encode())
    return h.hexdigest()


def validation_loss(base: Path, adapter: Path, val_data: Path, cfg_path: Path, work_dir: Path,
                    threads: int | None = None) -> dict:
    """Mean per-token loss on held-out XTuner data, base model vs base + adapter, through XTuner's own encoding."""
    val_dir = work_dir / 'val'
    val_dir.mkdir(exist_ok=True)
    prepare_data([(val_data, 1.0)], val_dir / 'val.jsonl', None, 0)
    # The data file is swapped inside val_loss.py, on the parsed config: XTuner's train rewrites config.py in its own
    # (yapf) layout, so editing the text line by line is not safe.
    out = envs.run_in_env('train', [str(SCRIPTS / 'val_loss.py'), str(cfg_path), str(base), str(adapter),
                                    str(val_dir / 'val.jsonl')], cwd=val_dir, log=None,
                          extra_env={'OMP_NUM_THREADS': str(threads)} if threads else None)
    return _result_of(out)
