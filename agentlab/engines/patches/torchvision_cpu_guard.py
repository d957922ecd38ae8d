"""Make PyPI's torchvision 0.28.0 (a CUDA build) importable beside the CPU build of torch 2.13.0.

Why: XTuner imports torchvision at import time (xtuner/dataset/__init__.py -> internvl_dataset). With CPU torch,
torchvision's compiled ops do not load, and its two unconditional `torch.library.register_fake("torchvision::nms")`
/ `("torchvision::qnms")` registrations then raise "operator torchvision::nms does not exist" (pytorch/vision#9085),
so `import xtuner` fails. Guarding those two registrations with torchvision.extension._has_ops() (the same guard the
file already uses for every other op) lets torchvision import; nothing agentlab runs uses detection ops.

Idempotent: running it twice leaves the file as after the first run. Run with the environment's own python.
"""

import re
import sys
from importlib.util import find_spec
from pathlib import Path

spec = find_spec('torchvision')
if spec is None or not spec.submodule_search_locations:
    sys.exit('torchvision is not installed in this environment')
target = Path(list(spec.submodule_search_locations)[0]) / '_meta_registrations.py'
source = target.read_text()
GUARD = '_agentlab_register_fake'
if GUARD in source:
    print(f'already guarded: {target}')
    sys.exit(0)
helper = (
    '\n\ndef _agentlab_register_fake(name):\n'
    '    # agentlab: register only when torchvision\'s C++ ops loaded (CUDA torchvision beside CPU torch).\n'
    '    if torchvision.extension._has_ops():\n'
    '        return torch.library.register_fake(name)\n'
    '    return lambda fn: fn\n'
)
patched, n = re.subn(r'@torch\.library\.register_fake\(("torchvision::q?nms")\)', rf'@{GUARD}(\1)', source)
if n == 0:
    sys.exit(f'no register_fake("torchvision::nms") found in {target}; torchvision changed, update this patch')
# The helper goes right after the imports (before the first decorator use).
anchor = source.index('@functools.lru_cache')
patched = patched[:anchor] + helper.lstrip('\n') + '\n\n' + patched[anchor:]
target.write_text(patched)
print(f'guarded {n} register_fake calls in {target}')
