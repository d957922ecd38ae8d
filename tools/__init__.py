"""Pluggable tools (Lagent actions): built-ins, entry points (`agentlab.tools`), or `package.module:Class`."""

from agentlab.tools.base import AgentlabAction, ToolFunction, ToolResult, functions_of
from agentlab.tools.registry import ToolBox, available, load_action

__all__ = ['AgentlabAction', 'ToolBox', 'ToolFunction', 'ToolResult', 'available', 'functions_of', 'load_action']
