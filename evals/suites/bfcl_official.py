"""BFCL's official AST checker and data, from the `bfcl-eval` package, usable in the light core environment.

`bfcl_eval.eval_checker.ast_eval.ast_checker` imports `bfcl_eval.constants.model_config`, which imports a handler
for every vendor SDK BFCL supports (anthropic, cohere, google-genai, mistral, qwen-agent, ...). The checker itself
needs only the standard library; it consults that module for one fact: whether a model's function names had dots
replaced by underscores (`underscore_to_dot`), which is true only for APIs that forbid dots in names. agentlab's
ReAct protocol keeps dotted names whole, so the answer is always False.

The shim: before the checker is imported, a stand-in `bfcl_eval.constants.model_config` module whose
MODEL_CONFIG_MAPPING answers `underscore_to_dot=False` for every model name is put in sys.modules. Nothing else of
BFCL is replaced: scoring is BFCL's own code. (The `bfcl` engine environment has the full install, where BFCL's own
`bfcl evaluate` runs unshimmed as an independent check.)
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable

from agentlab.errors import AgentlabError

# The model name agentlab scores under: a prompt-mode (plain text) model in BFCL's own registry.
BFCL_MODEL_NAME = 'agentlab-react'


@dataclass(frozen=True)
class _ModelConfigStandIn:
    underscore_to_dot: bool = False
    is_fc_model: bool = False


class _AnyModel(dict):
    def __missing__(self, key: str) -> _ModelConfigStandIn:
        return _ModelConfigStandIn()


def _install_shim() -> None:
    name = 'bfcl_eval.constants.model_config'
    if name in sys.modules:
        return
    shim = types.ModuleType(name)
    shim.__doc__ = 'agentlab stand-in: see agentlab.evals.bfcl_official'
    shim.MODEL_CONFIG_MAPPING = _AnyModel()
    sys.modules[name] = shim


@lru_cache(maxsize=1)
def ast_checker() -> Callable[..., dict]:
    """BFCL's `ast_checker(func_description, model_output, possible_answer, language, test_category, model_name)`."""
    if find_spec('bfcl_eval') is None:
        raise AgentlabError('bfcl-eval is not installed in this environment; run: make setup')
    _install_shim()
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker as checker
    return checker


def python_language():
    from bfcl_eval.constants.enums import Language
    return Language.PYTHON


def data_dir() -> Path:
    spec = find_spec('bfcl_eval')
    if spec is None or not spec.submodule_search_locations:
        raise AgentlabError('bfcl-eval is not installed in this environment; run: make setup')
    return Path(list(spec.submodule_search_locations)[0]) / 'data'


def load_category(category: str) -> tuple[list[dict], dict[str, dict]]:
    """(cases, answers by id) for a BFCL v4 category such as 'simple_python'."""
    root = data_dir()
    src = root / f'BFCL_v4_{category}.json'
    if not src.is_file():
        known = sorted(p.stem.removeprefix('BFCL_v4_') for p in root.glob('BFCL_v4_*.json'))
        raise AgentlabError(f'no BFCL category {category!r}; available: {", ".join(known)}')
    cases = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    answers: dict[str, dict] = {}
    ans = root / 'possible_answer' / src.name
    if ans.is_file():
        answers = {a['id']: a for a in (json.loads(x) for x in ans.read_text().splitlines() if x.strip())}
    return cases, answers


def check(functions: list[dict], calls: list[dict[str, Any]], ground_truth: list, category: str) -> dict:
    """Score parsed calls ([{name: {arg: value}}] as BFCL expects) with the official checker."""
    return ast_checker()(functions, calls, ground_truth, python_language(), category, BFCL_MODEL_NAME)
