"""`transformers serve` (core environment), as agentlab starts it: the command line, and the key check it lacks."""

from __future__ import annotations

import sys
from pathlib import Path

from agentlab.engines.scripts_dir import script

API_KEY_ENV = 'AGENTLAB_SERVE_API_KEY'     # how the key reaches the auth wrapper (never on a command line)


def transformers_command(model_path: str | Path, host: str, port: int, *, device: str = 'auto',
                         dtype: str = 'float32', api_key: str | None = None,
                         python: str | Path | None = None) -> list[str]:
    """The `transformers serve` command line (core environment). The model is preloaded and pinned
    (`force_model`), so requests must name it exactly as given here: ``str(model_path)``.

    With an API key the same CLI runs through agentlab's wrapper, which adds bearer-token checks to every route but
    /health (`transformers serve` has no key option); the key travels in $AGENTLAB_SERVE_API_KEY, not argv."""
    python = str(python or sys.executable)
    args = ['serve', str(model_path), '--host', host, '--port', str(port), '--device', device, '--dtype', dtype,
            '--log-level', 'warning']
    if api_key:
        return [python, str(script('transformers_serve_auth')), *args]
    exe = Path(python).parent / 'transformers'
    if exe.exists():
        return [str(exe), *args]
    return [python, '-m', 'transformers.cli.transformers', *args]
