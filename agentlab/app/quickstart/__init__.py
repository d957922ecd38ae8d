"""`agentlab quickstart`: the plan (plan: light, the CLI quotes it), the content-addressed stages (stages), and the
pipeline that runs them (pipeline)."""

from agentlab.app.quickstart.plan import Plan

__all__ = ['Plan']
