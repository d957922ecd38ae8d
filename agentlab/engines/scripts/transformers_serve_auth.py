"""`transformers serve` with a bearer API key (transformers 5.x has no key option of its own).

usage: python transformers_serve_auth.py serve MODEL [transformers serve options...]
The key comes from $AGENTLAB_SERVE_API_KEY (never argv, so `ps` does not show it). Every route except /health
answers 401 without ``Authorization: Bearer KEY``, as LMDeploy's --api-keys does.
"""

import hmac
import os
import sys

KEY = os.environ.pop('AGENTLAB_SERVE_API_KEY', '')
if not KEY:
    sys.exit('AGENTLAB_SERVE_API_KEY is empty')

import transformers.cli.serving.server as server  # noqa: E402
from transformers.cli.transformers import app  # noqa: E402

_build = server.build_server


def build_server(*args, **kwargs):
    from fastapi.responses import JSONResponse
    api = _build(*args, **kwargs)

    @api.middleware('http')
    async def require_key(request, call_next):
        if request.url.path != '/health' and request.method != 'OPTIONS':
            given = request.headers.get('authorization', '')
            if not hmac.compare_digest(given.encode(), f'Bearer {KEY}'.encode()):
                return JSONResponse({'error': {'message': 'invalid or missing API key', 'type': 'invalid_api_key'}},
                                    status_code=401)
        return await call_next(request)

    return api


# serve.py imports build_server from this module inside Serve.__init__, so patching the attribute is enough.
server.build_server = build_server
app(args=sys.argv[1:], prog_name='transformers')
