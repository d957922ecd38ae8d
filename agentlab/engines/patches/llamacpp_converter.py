"""Install llama.cpp's own HF -> GGUF converter, and the gguf-py it is written against, into the llamacpp environment.

Why: `pip install llama-cpp-python` builds the C++ library but installs neither `convert_hf_to_gguf.py` nor the
`gguf` Python package it imports. The converter changes with every llama.cpp release and expects the gguf-py of the
same commit (PyPI's `gguf` lags behind it), and both ship in the llama-cpp-python sdist under vendor/llama.cpp. So
this takes them from the sdist of the llama-cpp-python that is installed (pip's cache usually has it already):
  <env>/share/llama.cpp/convert_hf_to_gguf.py and its conversion/ package, run by agentlab/engines/scripts/gguf_export.py;
  gguf-py, pip-installed into the environment (no dependencies: numpy, pyyaml, tqdm, requests are pinned already).

Idempotent: re-running replaces the copied files with the same ones. Run with the environment's own python.
"""

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

VERSION = version('llama-cpp-python')
DEST = Path(sys.prefix) / 'share' / 'llama.cpp'
VENDOR = 'vendor/llama.cpp/'
WANTED = ('convert_hf_to_gguf.py', 'conversion/', 'gguf-py/', 'LICENSE')

with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, '-m', 'pip', 'download', '--disable-pip-version-check', '--no-deps',
                    '--no-binary', ':all:', '-d', tmp, f'llama-cpp-python=={VERSION}'],
                   check=True)
    sdists = list(Path(tmp).glob('llama_cpp_python-*.tar.gz'))
    if len(sdists) != 1:
        sys.exit(f'expected one llama-cpp-python sdist from pip download, found {[p.name for p in sdists]}')
    staged = Path(tmp) / 'vendor'
    with tarfile.open(sdists[0]) as tar:
        members = []
        for m in tar.getmembers():
            root, _, rest = m.name.partition('/')
            if rest.startswith(VENDOR) and rest[len(VENDOR):].startswith(WANTED) and (m.isfile() or m.isdir()):
                m.name = rest[len(VENDOR):]
                members.append(m)
        tar.extractall(staged, members=members, filter='data')
    if not (staged / 'convert_hf_to_gguf.py').is_file() or not (staged / 'gguf-py' / 'gguf').is_dir():
        sys.exit(f'the llama-cpp-python {VERSION} sdist has no {VENDOR}convert_hf_to_gguf.py or gguf-py')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-deps',
                    str(staged / 'gguf-py')], check=True)
    if DEST.exists():
        shutil.rmtree(DEST)
    DEST.mkdir(parents=True)
    for name in ('convert_hf_to_gguf.py', 'conversion', 'LICENSE'):
        src = staged / name
        if src.is_dir():
            shutil.copytree(src, DEST / name)
        elif src.exists():
            shutil.copy2(src, DEST / name)
    print(f'llama.cpp converter of llama-cpp-python {VERSION} installed in {DEST}')
