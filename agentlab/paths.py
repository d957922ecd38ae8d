"""Where agentlab keeps things: $AGENTLAB_HOME (default ~/.cache/agentlab)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get('AGENTLAB_HOME') or Path.home() / '.cache' / 'agentlab').expanduser()


def envs_dir() -> Path:
    return home() / 'envs'


def models_dir() -> Path:
    return home() / 'models'


def configs_dir() -> Path:
    """The presets and pin files shipped inside the package (the repository's configs/ folder)."""
    from agentlab import configs
    return Path(configs.__file__).parent
