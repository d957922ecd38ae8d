"""Engine scripts by name. They live in ``agentlab/engines/scripts/`` as data (no package): each is run by path with
an engine environment's interpreter and imports only what that environment has, never agentlab."""

from __future__ import annotations

from pathlib import Path

from agentlab.errors import AgentlabError

SCRIPTS = Path(__file__).parent / 'scripts'


def script(name: str) -> Path:
    """The path of engine script ``name`` (without .py), e.g. ``script('xtuner_run')``."""
    path = SCRIPTS / f'{name}.py'
    if not path.is_file():
        raise AgentlabError(f'no engine script {name!r} in {SCRIPTS}')
    return path
