"""Run one of XTuner's entry modules (xtuner.tools.train, ...model_converters.pth_to_hf, ...merge) in the train
environment with agentlab's runtime fixes applied first. Runs in the train env.

usage: python xtuner_run.py MODULE [ARGS...]

Why a wrapper: two XTuner 0.2.0 pitfalls, patched for every command, in one place, before XTuner runs.
``python -m xtuner...`` is used instead of the ``xtuner`` CLI because the CLI's exit code is always 0, even when
training failed.

* XTuner calls ``torch.cpu.is_bf16_supported()`` (xtuner/model/utils.py, when it guesses a dtype for LoRA, and in
  the converters), which torch does not define, so every CPU run crashes there. Defined here as "no": XTuner must
  not pick a dtype by itself; the config names it (``torch_dtype``).
* XTuner prepares every LoRA model with peft's ``prepare_model_for_kbit_training``, which casts all bfloat16 and
  float16 parameters to float32 even when the model is not quantised: a base model loaded in bfloat16 silently
  trained in float32. For a model that is not loaded in 8 or 4 bits, the base weights keep the dtype they were
  loaded in (they are frozen); the LoRA weights are float32 anyway (peft upcasts adapters), and so is the optimizer
  state: mixed precision the way peft intends it.
"""

import atexit
import resource
import runpy
import sys

import torch

# The engine process's own peak memory, for train_summary.json and the training benchmark (Linux: ru_maxrss in KiB).
atexit.register(lambda: print(f'AGENTLAB_PEAK_RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}',
                              flush=True))

if not hasattr(torch.cpu, 'is_bf16_supported'):
    torch.cpu.is_bf16_supported = lambda: False   # XTuner must not pick a dtype by itself: the config names it


def _keep_loaded_dtype(prepare):
    def prepare_model(model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs=None, **kwargs):
        if getattr(model, 'is_loaded_in_8bit', False) or getattr(model, 'is_loaded_in_4bit', False):
            return prepare(model, use_gradient_checkpointing, gradient_checkpointing_kwargs, **kwargs)
        for param in model.parameters():        # what peft does for a model it does not need to cast: freeze it
            param.requires_grad = False
        if use_gradient_checkpointing:
            model.enable_input_require_grads()
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gradient_checkpointing_kwargs or {})
        return model
    return prepare_model


import xtuner.model.sft as _sft  # noqa: E402  (after the patch above: it imports xtuner.model.utils)

_sft.prepare_model_for_kbit_training = _keep_loaded_dtype(_sft.prepare_model_for_kbit_training)

if len(sys.argv) < 2:
    sys.exit('usage: python xtuner_run.py MODULE [ARGS...]')
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name='__main__', alter_sys=True)
