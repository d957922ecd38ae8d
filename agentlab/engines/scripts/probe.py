"""Import an engine environment's key modules and print the versions of its distributions (agentlab's health check).

Usage: python probe.py MODULE,MODULE DIST,DIST  -> prints AGENTLAB_RESULT {"dist": "version" | "missing", ...}
"""

import importlib
import json
import sys
from importlib import metadata

mods, dists = sys.argv[1].split(','), sys.argv[2].split(',')
for m in mods:
    if m:
        importlib.import_module(m)
out = {}
for d in dists:
    try:
        out[d] = metadata.version(d)
    except metadata.PackageNotFoundError:
        out[d] = 'missing'
print('AGENTLAB_RESULT ' + json.dumps(out))
