"""The one line an engine script prints for agentlab to read: ``AGENTLAB_RESULT {json}``.

Engine scripts run in other environments (XTuner's, OpenCompass's) and talk back through their output; every script
ends with this line, and this is the only parser of it.
"""

from __future__ import annotations

import json

from agentlab.errors import AgentlabError

RESULT_PREFIX = 'AGENTLAB_RESULT '


def find_result(output: str) -> dict | None:
    """The JSON of the last result line in ``output``, or None when there is none."""
    lines = [ln for ln in output.splitlines() if ln.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX):]) if lines else None


def read_result(output: str, what: str = 'an engine script') -> dict:
    """Like :func:`find_result`, but a missing line is a one-line AgentlabError."""
    found = find_result(output)
    if found is None:
        raise AgentlabError(f'{what} ended without its result line; see the output above')
    return found
