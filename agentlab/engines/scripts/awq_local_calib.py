"""LMDeploy AWQ (W4A16) calibrated on local text, run with the serve environment's interpreter (CUDA GPU).

LMDeploy's `lite auto_awq` only knows hub datasets (ptb, wikitext2, c4, pileval, ...), downloaded at run time: the
step where offline tutorials got stuck. This script replaces LMDeploy's calibration loader with blocks of tokens cut
from a local JSONL file of {"text": ...} rows (agentlab quantize writes it from the user's converted data), then runs
LMDeploy's own `auto_awq` unchanged.

usage: python awq_local_calib.py --model HF_DIR --out DIR --calib-text FILE.jsonl [--w-bits 4] [--w-group-size 128]
       [--calib-samples 128] [--calib-seqlen 2048] [--batch-size 1] [--search-scale]
"""

import argparse
import inspect
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument('--model', required=True)
parser.add_argument('--out', required=True)
parser.add_argument('--calib-text', required=True)
parser.add_argument('--w-bits', type=int, default=4)
parser.add_argument('--w-group-size', type=int, default=128)
parser.add_argument('--calib-samples', type=int, default=128)
parser.add_argument('--calib-seqlen', type=int, default=2048)
parser.add_argument('--batch-size', type=int, default=1)
parser.add_argument('--search-scale', action='store_true')
args = parser.parse_args()

import torch  # noqa: E402

texts = [json.loads(line)['text'] for line in open(args.calib_text, encoding='utf-8') if line.strip()]


def local_blocks(tokenizer, nsamples: int, seqlen: int) -> list:
    """Up to ``nsamples`` blocks of ``seqlen`` tokens from the local texts (concatenated, EOS-separated)."""
    ids: list[int] = []
    sep = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for t in texts:
        ids += tokenizer.encode(t, add_special_tokens=False) + sep
        if len(ids) >= nsamples * seqlen:
            break
    if len(ids) < seqlen:
        # Short data: one block of whatever there is (AWQ statistics need tokens, not a full window).
        return [torch.tensor([ids])]
    return [torch.tensor([ids[i:i + seqlen]]) for i in range(0, len(ids) - seqlen + 1, seqlen)][:nsamples]


def patched_loader(returns_pair: bool):
    def get_calib_loaders(name, tokenizer, *rest, nsamples=128, seed=0, seqlen=2048, **kwargs):
        blocks = local_blocks(tokenizer, nsamples, seqlen)
        print(f'[agentlab] calibration: {len(blocks)} local blocks of up to {seqlen} tokens', flush=True)
        return (blocks, None) if returns_pair else blocks
    return get_calib_loaders


import lmdeploy.lite.apis.calibrate as calibrate_mod  # noqa: E402
import lmdeploy.lite.utils as lite_utils  # noqa: E402

# Versions differ in whether the caller unpacks (loader, test_data) or takes the loader alone.
pair = bool(__import__('re').search(r'\w+\s*,\s*_\s*=\s*get_calib_loaders', inspect.getsource(calibrate_mod)))
loader = patched_loader(pair)
calibrate_mod.get_calib_loaders = loader
lite_utils.get_calib_loaders = loader
try:
    import lmdeploy.lite.utils.calib_dataloader as dl
    dl.get_calib_loaders = loader
except ImportError:
    pass

from lmdeploy.lite.apis.auto_awq import auto_awq  # noqa: E402

params = inspect.signature(auto_awq).parameters
kwargs = dict(work_dir=args.out, calib_dataset='wikitext2', calib_samples=args.calib_samples,
              calib_seqlen=args.calib_seqlen, w_bits=args.w_bits, w_group_size=args.w_group_size,
              batch_size=args.batch_size, search_scale=args.search_scale)
auto_awq(args.model, **{k: v for k, v in kwargs.items() if k in params})
print('[agentlab] AWQ done', flush=True)
sys.exit(0)
