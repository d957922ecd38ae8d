"""The training benchmark's baseline: a plain peft + transformers Trainer LoRA loop on exactly the samples XTuner
trains on (its own encoded, packed samples), with the same model, dtype, LoRA settings, batch and learning rate.
Runs in the train env (same torch/transformers/peft as XTuner).

usage: python plain_lora_loop.py MODEL_DIR ENCODED_JSONL ITERS LR R ALPHA DROPOUT
Prints AGENTLAB_RESULT {"step_seconds": [...], "tokens_per_step": N, "peak_rss_bytes": N, "losses": [...]}.
"""

import json
import resource
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments, default_data_collator

model_dir, encoded, iters, lr, r, alpha, dropout = sys.argv[1:8]
iters, lr, r, alpha, dropout = int(iters), float(lr), int(r), int(alpha), float(dropout)

samples = [json.loads(line) for line in open(encoded)]
train_set = [{'input_ids': torch.tensor(s['input_ids']), 'labels': torch.tensor(s['labels'])} for s in samples]
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
model.config.use_cache = False
# The same target modules XTuner picks when a LoRA config names none (xtuner.model.utils.find_all_linear_names).
targets = sorted({name.split('.')[-1] for name, mod in model.named_modules()
                  if isinstance(mod, nn.Linear) and name.split('.')[-1] != 'lm_head'})
model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, bias='none',
                                         task_type='CAUSAL_LM', target_modules=targets))


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self.losses, self._start = [], [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and 'loss' in logs:
            self.losses.append(logs['loss'])


timer = StepTimer()
args = TrainingArguments(output_dir='plain-loop-out', per_device_train_batch_size=1, max_steps=iters,
                         learning_rate=lr, lr_scheduler_type='cosine', warmup_ratio=0.03, weight_decay=0.0,
                         max_grad_norm=1.0, logging_steps=1, save_strategy='no', report_to=[], use_cpu=True,
                         dataloader_num_workers=0, gradient_checkpointing=False, seed=0, disable_tqdm=True)
Trainer(model=model, args=args, train_dataset=train_set, data_collator=default_data_collator,
        callbacks=[timer]).train()
print('AGENTLAB_RESULT ' + json.dumps({
    'step_seconds': timer.times, 'losses': timer.losses,
    'tokens_per_step': sum(len(s['input_ids']) for s in samples) / len(samples),
    'peak_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
