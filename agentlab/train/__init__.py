"""Training: presets (configs/xtuner), the data `agentlab train` takes (data), and the run itself (run: plan,
launch XTuner, export the adapter and the merged model, summarise)."""

from agentlab.train.presets import PRESETS, Preset
from agentlab.train.run import run_train

__all__ = ['PRESETS', 'Preset', 'run_train']
