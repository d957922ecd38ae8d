"""`python`: a Python interpreter whose code runs in the sandbox process (agentlab.tools.sandbox), never here."""

from __future__ import annotations

from typing import Annotated

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction
from agentlab.tools.sandbox import Limits, run_python


class SandboxedPython(AgentlabAction):
    """A Python interpreter; the code runs in an isolated sandbox process. Print results, or define solution()."""

    tool_name = 'PythonInterpreter'

    def __init__(self, limits: Limits = Limits(), **kwargs):
        super().__init__(**kwargs)
        self.limits = limits

    @tool_api
    def run(self, command: Annotated[str, 'Python code; print the result or define solution() returning it']
            ) -> str:
        """Run Python code in a sandbox and return what it printed (and solution()'s value if it defines one).

        Args:
            command (str): Python code; print the result or define solution() returning it
        """
        epilogue = "\nif callable(globals().get('solution')):\n    print(solution())\n"
        res = run_python(command + epilogue, self.limits)
        out = res.stdout.rstrip('\n')
        if res.truncated:
            out += '\n[output truncated]'
        if res.exit_code != 0 or res.timed_out:
            tail = '\n'.join(res.stderr.strip().splitlines()[-6:])
            raise RuntimeError((out + '\n' if out else '') + (tail or f'exit code {res.exit_code}'))
        return out
