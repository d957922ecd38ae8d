"""Small network facts a server and its clients share: which address a client uses, whether a port is free, and
whether an HTTP endpoint answers."""

from __future__ import annotations

import errno
import socket
import urllib.error
import urllib.request

from agentlab.errors import AgentlabError


def client_host(host: str) -> str:
    """The address a client on this machine uses for a server bound to ``host``."""
    return '127.0.0.1' if host in ('0.0.0.0', '', '::') else host


def base_url(host: str, port: int) -> str:
    h = client_host(host)
    return f'http://[{h}]:{port}/v1' if ':' in h else f'http://{h}:{port}/v1'


def check_port_free(host: str, port: int) -> None:
    """One-line error when ``host:port`` cannot be bound (checked with SO_REUSEADDR, as uvicorn binds)."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AgentlabError(f'port {port} on {host} is already in use; pick another with --port') from None
            raise AgentlabError(f'cannot bind {host}:{port}: {exc.strerror or exc}') from None


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_status(url: str, api_key: str | None, timeout: float = 2.0) -> int | None:
    req = urllib.request.Request(url, headers={'Authorization': f'Bearer {api_key}'} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None
