"""agentlab's built-in tools, one Lagent action per module. Deterministic tools (calculator, python, dates, units)
return their real results, so the data engine's observations and the evaluator's expected answers come from them."""

from __future__ import annotations

from agentlab.tools.base import AgentlabAction
from agentlab.tools.builtin.arxiv import ArxivSearchTool
from agentlab.tools.builtin.calculator import Calculator, CalculatorError, safe_eval
from agentlab.tools.builtin.dates import DateCalculator
from agentlab.tools.builtin.knowledge import KnowledgeBase
from agentlab.tools.builtin.python import SandboxedPython
from agentlab.tools.builtin.units import UnitConverter, convert_units

BUILTIN_ACTIONS: dict[str, type[AgentlabAction]] = {
    'calculator': Calculator, 'python': SandboxedPython, 'arxiv': ArxivSearchTool, 'knowledge': KnowledgeBase,
    'dates': DateCalculator, 'units': UnitConverter,
}
DEFAULT_TOOLS = ('calculator', 'python', 'dates', 'units', 'knowledge', 'arxiv')

__all__ = ['BUILTIN_ACTIONS', 'DEFAULT_TOOLS', 'ArxivSearchTool', 'Calculator', 'CalculatorError', 'DateCalculator',
           'KnowledgeBase', 'SandboxedPython', 'UnitConverter', 'convert_units', 'safe_eval']
