# agentlab preset: InternLM2.5-7B-chat, QLoRA (4-bit nf4), the Agent-FLAN tutorial's recipe. CUDA GPU only.
# An ordinary XTuner (mmengine) config, adapted from XTuner's internlm2_5_chat_7b_qlora_alpaca_e3.py. `agentlab train`
# copies it into the work dir and fills in the block marked "injected" (model path, data, schedule).
#
# Tokenizer: internlm/internlm2_5-7b-chat (remote code, sentencepiece) is on the Hugging Face hub, unreachable offline.
# Template parity (XTuner's internlm2_chat rendering == the tokenizer's own chat template, token for token) is checked by
# `agentlab train` before every launch, on the first conversations of the data, the first time the tokenizer is
# present.
#
# Recipe (Agent-FLAN tutorial, as for Llama 3): internlm2_chat template, max_length 4096, packing, batch 1 x
# accumulation 16, 3 epochs, lr 2e-4, LoRA r 64 / alpha 16 / dropout 0.1, nf4 with double quantization.
# Several GPUs: NPROC_PER_NODE=8 agentlab train ... --deepspeed deepspeed_zero2.
import torch
from datasets import load_dataset
from mmengine.dataset import DefaultSampler
from mmengine.hooks import CheckpointHook, DistSamplerSeedHook, IterTimerHook, LoggerHook, ParamSchedulerHook
from mmengine.optim import AmpOptimWrapper, CosineAnnealingLR, LinearLR
from peft import LoraConfig
from torch.optim import AdamW
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from xtuner.dataset import process_hf_dataset
from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.dataset.map_fns import template_map_fn_factory
from xtuner.engine.hooks import DatasetInfoHook
from xtuner.engine.runner import TrainLoop
from xtuner.model import SupervisedFinetune
from xtuner.utils import PROMPT_TEMPLATE

# ---- injected by `agentlab train` (begin) ----
pretrained_model_name_or_path = 'internlm/internlm2_5-7b-chat'
data_files = ['train.jsonl']
max_length = 4096
pack_to_max_length = True
batch_size = 1
accumulative_counts = 16
max_epochs = 3
max_iters = None
lr = 2e-4
lora_r = 64
lora_alpha = 16
lora_dropout = 0.1
save_steps = 500
save_total_limit = 2
seed = 0
log_interval = 10
# ---- injected by `agentlab train` (end) ----

prompt_template = PROMPT_TEMPLATE.internlm2_chat

tokenizer = dict(type=AutoTokenizer.from_pretrained, pretrained_model_name_or_path=pretrained_model_name_or_path,
                 trust_remote_code=True, padding_side='right')

model = dict(
    type=SupervisedFinetune,
    use_varlen_attn=False,
    llm=dict(type=AutoModelForCausalLM.from_pretrained, pretrained_model_name_or_path=pretrained_model_name_or_path,
             trust_remote_code=True, torch_dtype=torch.float16,
             quantization_config=dict(type=BitsAndBytesConfig, load_in_4bit=True, load_in_8bit=False,
                                      llm_int8_threshold=6.0, llm_int8_has_fp16_weight=False,
                                      bnb_4bit_compute_dtype=torch.float16, bnb_4bit_use_double_quant=True,
                                      bnb_4bit_quant_type='nf4')),
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
    use_varlen_attn=False)

train_dataloader = dict(batch_size=batch_size, num_workers=0, dataset=train_dataset,
                        sampler=dict(type=DefaultSampler, shuffle=True),
                        collate_fn=dict(type=default_collate_fn, use_varlen_attn=False))

optim_wrapper = dict(type=AmpOptimWrapper, optimizer=dict(type=AdamW, lr=lr, betas=(0.9, 0.999), weight_decay=0),
                     clip_grad=dict(max_norm=1, error_if_nonfinite=False), accumulative_counts=accumulative_counts,
                     loss_scale='dynamic', dtype='float16')

# `agentlab train` turns --epochs into an iteration count it computes from the tokenized data (so a small data set
# can never produce the "end should be larger than begin" warm-up error); XTuner's epoch schedule stays as fallback.
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

custom_hooks = [dict(type=DatasetInfoHook, tokenizer=tokenizer)]
default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, log_metric_by_epoch=False, interval=log_interval),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=CheckpointHook, by_epoch=False, interval=save_steps, max_keep_ckpts=save_total_limit),
    sampler_seed=dict(type=DistSamplerSeedHook))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
visualizer = None
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=seed, deterministic=False)
log_processor = dict(by_epoch=False)
