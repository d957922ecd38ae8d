"""`react:builtin` (or `react:FILE.jsonl`): multi-step held-out tasks over the built-in tools (see :mod:`.suite`)."""

from agentlab.evals.suites.react.answers import answer_matches
from agentlab.evals.suites.react.plans import build_tasks, load_tasks, write_tasks
from agentlab.evals.suites.react.suite import ReactSuite
from agentlab.evals.suites.react.toolbox import make_toolbox

__all__ = ['ReactSuite', 'answer_matches', 'build_tasks', 'load_tasks', 'make_toolbox', 'write_tasks']
