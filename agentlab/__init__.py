"""agentlab: teach open language models to call tools, and prove with numbers that they learned."""

__version__ = '0.1.0'


def __getattr__(name):
    # The public Python API, imported lazily so `import agentlab` (and the CLI's --help) stays fast.
    if name in ('Agent', 'Trace', 'TraceStep', 'Step'):
        from agentlab.runtime import agent
        return getattr(agent, name)
    if name == 'ToolBox':
        from agentlab.tools import ToolBox
        return ToolBox
    raise AttributeError(name)
