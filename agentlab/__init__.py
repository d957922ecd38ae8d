"""agentlab: teach open language models to call tools, and prove with numbers that they learned."""

__version__ = '0.1.0'
