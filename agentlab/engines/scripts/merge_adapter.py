"""Merge a LoRA adapter into its base model and save the result in the dtype asked for. Runs in the train env.

usage: python merge_adapter.py BASE_MODEL ADAPTER_DIR OUT_DIR --dtype bfloat16|float16|float32 [--device cpu|cuda]

Why not XTuner's own `xtuner.tools.model_converters.merge`: it loads the base model in float16 whatever it was
trained in, merges there and saves float16, so a model trained in bfloat16 (or float32) came out in a third dtype.
Here the merge itself runs in float32 (W + BA without rounding in between), and the merged weights are cast once to
the dtype the user asked for. A merged folder of any dtype still loads in float32 (transformers upcasts on load).
"""

import argparse
import json

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

parser = argparse.ArgumentParser()
parser.add_argument('base')
parser.add_argument('adapter')
parser.add_argument('out')
parser.add_argument('--dtype', choices=('bfloat16', 'float16', 'float32'), required=True)
parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
args = parser.parse_args()

model = AutoModelForCausalLM.from_pretrained(args.base, torch_dtype=torch.float32, low_cpu_mem_usage=True,
                                             device_map=args.device, trust_remote_code=True)
merged = PeftModel.from_pretrained(model, args.adapter, is_trainable=False).merge_and_unload()
merged = merged.to(getattr(torch, args.dtype))
merged.save_pretrained(args.out, safe_serialization=True)
AutoTokenizer.from_pretrained(args.base, trust_remote_code=True).save_pretrained(args.out)
print('AGENTLAB_RESULT ' + json.dumps({'dtype': args.dtype, 'params': sum(p.numel() for p in merged.parameters())}))
