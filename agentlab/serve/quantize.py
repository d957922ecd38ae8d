"""`agentlab quantize`: LMDeploy AWQ 4-bit weights (CUDA GPU), calibrated on local text instead of a hub download."""

from __future__ import annotations

import json
from pathlib import Path

from agentlab.engines import envs
from agentlab.engines.lmdeploy import detect_model_format, quantize_command
from agentlab.errors import AgentlabError
from agentlab.host import cuda_available
from agentlab.procs import run_logged
from agentlab.serve.server import resolve_local_model


def calibration_source(model_path: Path, calib_data: str | None) -> Path:
    """Where the calibration text comes from: ``--calib-data``, else the data the model was tuned on
    (``WORK_DIR/data/train.jsonl`` beside ``WORK_DIR/merged``, as `agentlab train` lays it out)."""
    if calib_data:
        src = Path(calib_data).expanduser()
        if not src.exists():
            raise AgentlabError(f'--calib-data {calib_data} does not exist')
        return src
    guess = Path(model_path).parent / 'data' / 'train.jsonl'
    if guess.is_file():
        return guess
    raise AgentlabError('no local calibration text: pass --calib-data FILE_OR_DIR (XTuner JSONL from agentlab '
                        'convert/synth, or .txt/.md files); LMDeploy\'s default calibration set is a hub download')


def calibration_texts(source: Path, limit_chars: int = 4_000_000) -> list[str]:
    """Plain texts for calibration from XTuner conversation JSONL (system + input + output of every turn),
    JSON lines with a "text" field, or .txt/.md files (a folder is read recursively)."""
    files = sorted(p for p in source.rglob('*') if p.is_file() and p.suffix in ('.jsonl', '.json', '.txt', '.md')) \
        if source.is_dir() else [source]
    texts: list[str] = []
    total = 0
    for f in files:
        if f.suffix in ('.jsonl', '.json'):
            for line in f.read_text(errors='replace').splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                text = _row_text(row)
                if text:
                    texts.append(text)
                    total += len(text)
                if total >= limit_chars:
                    return texts
        else:
            text = f.read_text(errors='replace').strip()
            if text:
                texts.append(text)
                total += len(text)
        if total >= limit_chars:
            break
    if not texts:
        raise AgentlabError(f'no calibration text found in {source}')
    return texts


def _row_text(row) -> str:
    if isinstance(row, dict) and isinstance(row.get('conversation'), list):
        parts = []
        for turn in row['conversation']:
            if isinstance(turn, dict):
                parts += [str(turn.get(k)) for k in ('system', 'input', 'output', 'content') if turn.get(k)]
        return '\n'.join(parts)
    if isinstance(row, dict) and isinstance(row.get('text'), str):
        return row['text']
    return ''


def run_quantize(model: str, out: str, w4a16: bool, calib_data: str | None = None, calib_samples: int = 128,
                 calib_seqlen: int = 2048, batch_size: int = 1, search_scale: bool = False, log=print) -> Path:
    if not cuda_available():
        raise AgentlabError('agentlab quantize runs LMDeploy\'s AWQ, which needs a CUDA GPU, and none was found '
                            'here; on CPU serve the unquantised model: agentlab serve --engine transformers')
    if not w4a16:
        raise AgentlabError('only --w4a16 (AWQ 4-bit weights, 16-bit activations) is supported')
    _, path = resolve_local_model(model)
    out_dir = Path(out).expanduser().resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise AgentlabError(f'{out_dir} is not empty; choose a new --out folder')
    source = calibration_source(path, calib_data)
    texts = calibration_texts(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    calib_file = out_dir / '.calibration.jsonl'
    with open(calib_file, 'w') as fh:
        for t in texts:
            fh.write(json.dumps({'text': t}, ensure_ascii=False) + '\n')
    log(f'calibrating on {len(texts)} local texts from {source}')
    eng = envs.engine('serve')
    envs.ensure(eng, log=log)
    cmd = quantize_command(path, out_dir, calib_file, calib_samples=calib_samples, calib_seqlen=calib_seqlen,
                           batch_size=batch_size, search_scale=search_scale, python=envs.env_python(eng))
    run_logged(cmd, log, prefix='serve', env=envs.engine_environ(eng))
    calib_file.unlink(missing_ok=True)
    if detect_model_format(out_dir) != 'awq':
        raise AgentlabError(f'LMDeploy finished but {out_dir}/config.json has no AWQ quantization_config')
    log(f'AWQ model written to {out_dir}; serve it with: agentlab serve --engine lmdeploy --model {out_dir}')
    return out_dir
