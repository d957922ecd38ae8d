"""HF model folder -> one GGUF file, with llama.cpp's own converter and quantizer (llamacpp environment).

  python gguf_export.py MODEL_DIR OUT.gguf --quant q8_0 [--threads 1]

f32/f16/bf16/q8_0 are written by convert_hf_to_gguf.py directly. K-quants (q4_k_m, q5_k_m, q6_k) and the legacy
q4_0/q5_0 are made from an f32 conversion by llama.cpp's quantizer (llama_model_quantize, through llama-cpp-python's
binding; no llama-quantize binary is needed). The chat template, special tokens and BOS/EOS flags travel inside the
file: the converter copies them from the folder's tokenizer files.

Prints one line `AGENTLAB_RESULT {json}` (what agentlab.engines.results parses) with the file type and timings.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CONVERTER = Path(sys.prefix) / 'share' / 'llama.cpp' / 'convert_hf_to_gguf.py'
DIRECT = ('f32', 'f16', 'bf16', 'q8_0')
QUANTIZED = {'q4_0': 'LLAMA_FTYPE_MOSTLY_Q4_0', 'q5_0': 'LLAMA_FTYPE_MOSTLY_Q5_0',
             'q4_k_m': 'LLAMA_FTYPE_MOSTLY_Q4_K_M', 'q5_k_m': 'LLAMA_FTYPE_MOSTLY_Q5_K_M',
             'q6_k': 'LLAMA_FTYPE_MOSTLY_Q6_K'}


def convert(model: Path, out: Path, outtype: str) -> None:
    if not CONVERTER.is_file():
        sys.exit(f'{CONVERTER} is missing: rebuild the environment (agentlab setup --engines llamacpp --rebuild)')
    proc = subprocess.run([sys.executable, str(CONVERTER), str(model), '--outfile', str(out), '--outtype', outtype],
                          capture_output=True, text=True)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        for line in text.splitlines():
            if 'is not supported' in line or 'not supported!' in line:
                sys.exit(f'llama.cpp cannot convert this model: {line.split(":", 1)[-1].strip()}')
        lines = [ln for ln in text.splitlines() if ln.strip()]
        sys.exit(f'convert_hf_to_gguf.py failed (exit {proc.returncode}): {lines[-1] if lines else "no output"}')


def quantize(src: Path, out: Path, quant: str, threads: int) -> None:
    import llama_cpp
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTIZED[quant])
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), params)
    if rc != 0:
        sys.exit(f'llama_model_quantize to {quant} failed (code {rc})')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('model', type=Path)
    ap.add_argument('out', type=Path)
    ap.add_argument('--quant', default='q8_0', choices=DIRECT + tuple(QUANTIZED))
    ap.add_argument('--threads', type=int, default=int(os.environ.get('OMP_NUM_THREADS', '1')))
    args = ap.parse_args()
    started = time.perf_counter()
    timings = {}
    if args.quant in DIRECT:
        convert(args.model, args.out, args.quant)
        timings['convert_seconds'] = round(time.perf_counter() - started, 2)
    else:
        source = args.out.with_name(args.out.name + '.f32-source')
        try:
            convert(args.model, source, 'f32')
            timings['convert_seconds'] = round(time.perf_counter() - started, 2)
            t = time.perf_counter()
            quantize(source, args.out, args.quant, args.threads)
            timings['quantize_seconds'] = round(time.perf_counter() - t, 2)
        finally:
            source.unlink(missing_ok=True)
    print('AGENTLAB_RESULT ' + json.dumps({'quant': args.quant, 'bytes': args.out.stat().st_size,
                                           'seconds': round(time.perf_counter() - started, 2), **timings}))


if __name__ == '__main__':
    main()
