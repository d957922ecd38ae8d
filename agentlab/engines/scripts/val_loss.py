"""Validation loss through XTuner's own encoding: mean loss per trained token, base model vs base + adapter.
Runs in the train env.  usage: python val_loss.py CONFIG BASE_MODEL ADAPTER_DIR VAL_JSONL"""

import json
import os
import sys

import torch
from mmengine.config import Config
from peft import PeftModel
from transformers import AutoModelForCausalLM
from xtuner.registry import BUILDER

if os.environ.get('OMP_NUM_THREADS'):     # `agentlab train --threads N`; otherwise torch's default (all cores)
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
if not hasattr(torch.cpu, 'is_bf16_supported'):   # see xtuner_run.py
    torch.cpu.is_bf16_supported = lambda: False
cfg = Config.fromfile(sys.argv[1])
dataset_cfg = cfg.train_dataloader.dataset
dataset_cfg.dataset.data_files = [sys.argv[4]]
dataset_cfg.pack_to_max_length = False      # one sample per conversation: a per-token mean over whole conversations
dataset_cfg.shuffle_before_pack = False
dataset = BUILDER.build(dataset_cfg)


def mean_loss(model) -> float:
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for sample in dataset:
            ids = torch.tensor([sample['input_ids']])
            labels = torch.tensor([sample['labels']])
            n = int((labels[:, 1:] != -100).sum())
            if n == 0:
                continue
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return total / max(1, count)


base = AutoModelForCausalLM.from_pretrained(sys.argv[2], torch_dtype=torch.float32)
before = mean_loss(base)
tuned = PeftModel.from_pretrained(base, sys.argv[3])
after = mean_loss(tuned)
print('AGENTLAB_RESULT ' + json.dumps({'samples': len(dataset), 'base': round(before, 4), 'tuned': round(after, 4)}))
