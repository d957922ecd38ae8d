"""The console script's old home: `agentlab = "agentlab.cli:main"` in a virtual environment installed before the
code moved to agentlab.app.cli keeps working until `make setup` reinstalls it."""

from agentlab.app.cli import app, main

__all__ = ['app', 'main']
