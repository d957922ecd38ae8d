"""The one error type the CLI turns into a one-line message (and exit code) instead of a traceback."""


class AgentlabError(Exception):
    """A failure the user can act on. ``str(err)`` is the one-line reason, ideally with what to run next."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
