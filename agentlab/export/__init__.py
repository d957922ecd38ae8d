"""`agentlab export`: a model as one GGUF file (llama.cpp, Ollama, LM Studio) or as a plain HF folder.

Reads top to bottom: resolve the model (a registered name, a trained `merged/` folder, any HF folder), convert with
llama.cpp's own converter and quantizer in the pinned `llamacpp` environment (agentlab/engines/scripts/gguf_export.py),
check what came out with the gguf reader (whole, has tensors, carries the chat template), publish it atomically,
and write beside it an Ollama Modelfile and an export.json manifest (source hash, quant, size, versions).

A re-run with the same --out replaces the file only after the new one is complete and checked.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from agentlab.engines import envs
from agentlab.engines.results import read_result
from agentlab.engines.scripts_dir import script
from agentlab.errors import AgentlabError
from agentlab.export.modelfile import modelfile_text
from agentlab.models import parse_model_spec
from agentlab.models.gguf import read_gguf
from agentlab.provenance import model_hash, sha256_file, write_json_atomic

FORMATS = ('gguf', 'hf')
QUANTS = ('f32', 'f16', 'bf16', 'q8_0', 'q6_k', 'q5_k_m', 'q4_k_m', 'q5_0', 'q4_0')
DEFAULT_QUANT = 'q8_0'


def default_out(label: str, fmt: str, quant: str) -> Path:
    stem = label.replace('/', '-')
    return Path('runs/export') / (f'{stem}-{quant}.gguf' if fmt == 'gguf' else stem)


def run_export(model: str, fmt: str = 'gguf', quant: str = DEFAULT_QUANT, out: str | Path | None = None,
               threads: int | None = None, log: Callable[[str], None] = print) -> dict:
    if fmt not in FORMATS:
        raise AgentlabError(f'unknown export format {fmt!r}; choose from {", ".join(FORMATS)}')
    if fmt == 'gguf' and quant not in QUANTS:
        raise AgentlabError(f'unknown GGUF quant {quant!r}; choose from {", ".join(QUANTS)}')
    spec = parse_model_spec(model)
    if spec.kind == 'endpoint':
        raise AgentlabError(f'{model} is an endpoint; export needs the model folder')
    if spec.kind == 'gguf':
        raise AgentlabError(f'{model} is already a GGUF file; export from the HF folder it was made from')
    folder = spec.local_path()
    out = Path(out) if out else default_out(spec.label, fmt, quant)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == 'hf':
        return _export_hf(folder, out, log)
    return _export_gguf(folder, out, quant, threads, log)


def _export_hf(folder: Path, out: Path, log) -> dict:
    if out.resolve() == folder.resolve():
        raise AgentlabError(f'--out {out} is the model folder itself')
    partial = out.with_name(out.name + '.partial')
    shutil.rmtree(partial, ignore_errors=True)
    log(f'copying {folder} -> {out}')
    shutil.copytree(folder, partial)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return {'format': 'hf', 'out': str(out), 'source': str(folder), 'source_sha256': model_hash(folder)}


def _export_gguf(folder: Path, out: Path, quant: str, threads: int | None, log) -> dict:
    if out.suffix.lower() != '.gguf':
        raise AgentlabError(f'--out {out} must end in .gguf')
    if not (folder / 'tokenizer_config.json').is_file():
        raise AgentlabError(f'{folder} has no tokenizer_config.json; the GGUF needs the tokenizer and chat template')
    partial = out.with_name(out.name + '.partial')
    partial.unlink(missing_ok=True)
    threads = threads or int(os.environ.get('OMP_NUM_THREADS', '0') or 0) or 1
    started = time.time()
    log(f'converting {folder} to GGUF {quant} with llama.cpp\'s convert_hf_to_gguf.py (llamacpp environment)')
    try:
        output = envs.run_in_env('llamacpp', [str(script('gguf_export')), str(folder), str(partial), '--quant', quant,
                                              '--threads', str(threads)],
                                 extra_env={'OMP_NUM_THREADS': str(threads)}, log=None)
        result = read_result(output, 'gguf_export.py')
        info = read_gguf(partial)          # whole, has tensors, carries the chat template
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    modelfile = out.with_suffix('.Modelfile')
    modelfile.write_text(modelfile_text(out.name, info.chat_template or '', info.eos_token))
    manifest = {'format': 'gguf', 'quant': quant, 'file_type': info.file_type, 'out': str(out),
                'bytes': info.size_bytes, 'sha256': sha256_file(out), 'architecture': info.architecture,
                'tensor_types': info.tensor_types, 'source': str(folder), 'source_sha256': model_hash(folder),
                'modelfile': str(modelfile), 'engine_versions': envs.state(envs.engine('llamacpp'),
                                                                         check_imports=False).versions,
                'seconds': round(time.time() - started, 1), **{k: v for k, v in result.items() if k.endswith('seconds')}}
    write_json_atomic(out.with_suffix('.export.json'), manifest)
    log(f'wrote {out} ({info.size_bytes / 2**20:.1f} MiB, {info.file_type}), {modelfile.name}, '
        f'{out.with_suffix(".export.json").name}')
    return manifest
