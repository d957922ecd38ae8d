"""Run one of XTuner's entry modules (xtuner.tools.train, ...model_converters.pth_to_hf, ...merge) in the train
environment with agentlab's runtime fixes applied first. Runs in the train env.

usage: python xtuner_run.py MODULE [ARGS...]

Why a wrapper: XTuner 0.2.0 calls ``torch.cpu.is_bf16_supported()`` (xtuner/model/utils.py, when it guesses a dtype
for LoRA and in the converters), which torch does not define, so every CPU run crashes there. Patching it inside a
config file only works for the commands that execute the config eagerly; this wrapper patches it for every command,
in one place, before XTuner is imported. ``python -m xtuner...`` is used instead of the ``xtuner`` CLI because the
CLI's exit code is always 0, even when training failed.
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
    torch.cpu.is_bf16_supported = lambda: False   # CPU training here is float32; never pick bf16 on CPU

if len(sys.argv) < 2:
    sys.exit('usage: python xtuner_run.py MODULE [ARGS...]')
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name='__main__', alter_sys=True)
