"""Where the react suite's held-out resources live (package data under agentlab.evals/data)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DATA = Path(str(resources.files('agentlab.evals') / 'data'))
TASK_FILE = DATA / 'react_builtin.jsonl'      # the tasks, with expected answers (built from PLAN_FILE)
PLAN_FILE = DATA / 'react_plans.jsonl'        # the hand-written plans
KB_DIR = DATA / 'react_kb'                    # a fictional company's documents (not configs/knowledge)
ARXIV_CORPUS = DATA / 'arxiv_corpus.json'     # the 20 papers the offline arXiv serves
TOOLS = ('calculator', 'python', 'dates', 'units', 'knowledge', 'arxiv')
FUNCTION_TOOL = {'Calculator': 'calculator', 'PythonInterpreter': 'python', 'DateCalculator.days_between': 'dates',
                 'DateCalculator.add_days': 'dates', 'DateCalculator.weekday': 'dates', 'UnitConverter': 'units',
                 'KnowledgeBase.search': 'knowledge', 'ArxivSearch.get_arxiv_article_information': 'arxiv'}
