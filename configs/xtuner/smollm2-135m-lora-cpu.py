# agentlab preset: SmolLM2-135M-Instruct, LoRA, float32, CPU.
# An ordinary XTuner (mmengine) config. `agentlab train` copies it into the work dir and fills in the values of the
# block marked "injected" (model path, data, schedule); nothing else is edited. Every CPU-specific choice below says
# why (see docs/engine-notes.md, "XTuner on CPU").
import torch
from datasets import load_dataset
from mmengine.dataset import DefaultSampler
from mmengine.hooks import CheckpointHook, IterTimerHook, LoggerHook, ParamSchedulerHook
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from peft import LoraConfig
from torch.optim import AdamW
from transformers import AutoModelForCausalLM, Qwen2TokenizerFast
from xtuner.dataset import process_hf_dataset
from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.dataset.map_fns import template_map_fn_factory
from xtuner.engine.hooks import DatasetInfoHook
from xtuner.engine.runner import TrainLoop
from xtuner.model import SupervisedFinetune
from xtuner.utils import PROMPT_TEMPLATE

# ---- injected by `agentlab train` (begin) ----
pretrained_model_name_or_path = 'smollm2-135m'
data_files = ['train.jsonl']
max_length = 1024
pack_to_max_length = True
batch_size = 1
accumulative_counts = 1
max_epochs = 1
max_iters = None
lr = 5e-4
lora_r = 16
lora_alpha = 32
lora_dropout = 0.05
save_steps = 50
save_total_limit = 2
seed = 0
log_interval = 1
# ---- injected by `agentlab train` (end) ----

# ChatML, written exactly as SmolLM2's own chat template renders it. XTuner prepends the tokenizer's BOS to the
# first turn unless the tokenizer class is a Qwen one; SmolLM2's BOS *is* <|im_start|>, so the stock qwen_chat
# template would train on "<|im_start|><|im_start|>system" in every sample. Loading the tokenizer as
# Qwen2TokenizerFast (the same byte-level BPE, read from tokenizer.json) takes XTuner's no-BOS branch; tests prove the
# result token-identical to tokenizer.apply_chat_template.
prompt_template = PROMPT_TEMPLATE.qwen_chat

tokenizer = dict(type=Qwen2TokenizerFast.from_pretrained,
                 pretrained_model_name_or_path=pretrained_model_name_or_path, padding_side='right')

model = dict(
    type=SupervisedFinetune,
    use_varlen_attn=False,
    # XTuner checkpoints activations by default (a GPU-memory saving); a 135M model at 1024 tokens needs well under
    # 2 GiB of activations, so on CPU recomputing them would only cost about a third more time per step.
    use_activation_checkpointing=False,
    llm=dict(type=AutoModelForCausalLM.from_pretrained, pretrained_model_name_or_path=pretrained_model_name_or_path,
             torch_dtype=torch.float32),   # CPU: no quantization_config (bitsandbytes 4-bit needs CUDA), fp32
    lora=dict(type=LoraConfig, r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, bias='none',
              task_type='CAUSAL_LM'))

train_dataset = dict(
    type=process_hf_dataset,
    dataset=dict(type=load_dataset, path='json', data_files=data_files),
    tokenizer=tokenizer,
    max_length=max_length,
    dataset_map_fn=None,          # agentlab's data is already XTuner conversations (agentlab convert)
    template_map_fn=dict(type=template_map_fn_factory, template=prompt_template),
    remove_unused_columns=True,
    shuffle_before_pack=True,
    pack_to_max_length=pack_to_max_length,
    use_varlen_attn=False,
    map_num_proc=1)               # the default forks 32 workers, pointless and slow on a 2-core box

train_dataloader = dict(batch_size=batch_size, num_workers=0, dataset=train_dataset,
                        sampler=dict(type=DefaultSampler, shuffle=True),
                        collate_fn=dict(type=default_collate_fn, use_varlen_attn=False))

# OptimWrapper, not AmpOptimWrapper: AMP asserts a GPU.
optim_wrapper = dict(type=OptimWrapper, optimizer=dict(type=AdamW, lr=lr, betas=(0.9, 0.999), weight_decay=0),
                     clip_grad=dict(max_norm=1, error_if_nonfinite=False), accumulative_counts=accumulative_counts)

if max_iters:
    # mmengine's LinearLR reaches its end factor at iteration end-1 and the cosine that follows starts from wherever
    # warm-up stopped: a one-iteration warm-up (3% of a short run) would leave the whole run at lr x 1e-5.
    warmup_iters = max(2, int(0.03 * max_iters)) if max_iters >= 10 else 0
    param_scheduler = ([dict(type=LinearLR, start_factor=1e-5, by_epoch=False, begin=0, end=warmup_iters)]
                       if warmup_iters else []) + [
        dict(type=CosineAnnealingLR, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters)]
    train_cfg = dict(type=TrainLoop, max_iters=max_iters)
else:
    param_scheduler = [
        dict(type=LinearLR, start_factor=1e-5, by_epoch=True, begin=0, end=0.03 * max_epochs,
             convert_to_iter_based=True),
        dict(type=CosineAnnealingLR, eta_min=0.0, by_epoch=True, begin=0.03 * max_epochs, end=max_epochs,
             convert_to_iter_based=True)]
    train_cfg = dict(type=TrainLoop, max_epochs=max_epochs)

# No EvaluateChatHook: generating mid-training costs minutes on CPU (agentlab evaluates the merged model instead).
custom_hooks = [dict(type=DatasetInfoHook, tokenizer=tokenizer)]
default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, log_metric_by_epoch=False, interval=log_interval),  # agentlab parses every line
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=CheckpointHook, by_epoch=False, interval=save_steps, max_keep_ckpts=save_total_limit))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
visualizer = None
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=seed, deterministic=False)
log_processor = dict(by_epoch=False)
