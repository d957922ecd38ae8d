"""The tools every react task is offered: all the built-ins, with the knowledge base and arXiv pointed at the
held-out resources (a fictional company's documents; the offline arXiv)."""

from __future__ import annotations

from agentlab.evals.suites.react.data import KB_DIR
from agentlab.evals.suites.react.offline_arxiv import offline_arxiv_url


def make_toolbox():
    """Every built-in tool, with the knowledge base and arXiv pointed at the held-out resources."""
    from agentlab.tools import ToolBox
    from agentlab.tools.builtin import (ArxivSearchTool, Calculator, DateCalculator, KnowledgeBase, SandboxedPython,
                                        UnitConverter)
    return ToolBox([Calculator(), SandboxedPython(), DateCalculator(), UnitConverter(), KnowledgeBase(folder=KB_DIR),
                    ArxivSearchTool(endpoint=offline_arxiv_url())])
