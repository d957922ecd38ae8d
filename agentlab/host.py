"""Facts about the machine agentlab runs on: GPUs, cores, and how to share them."""

from __future__ import annotations

import os
import shutil
import subprocess


def cuda_available() -> bool:
    """A CUDA GPU is usable here (nvidia-smi lists one). Cheap: does not import torch."""
    if os.environ.get('AGENTLAB_FORCE_NO_CUDA'):
        return False
    exe = shutil.which('nvidia-smi')
    if not exe:
        return False
    try:
        out = subprocess.run([exe, '-L'], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and 'GPU' in out.stdout


def share_cores(train_threads: int | None) -> tuple[int, int | None]:
    """Threads for a background eval and for training while they run side by side: (eval, train).

    OMP_NUM_THREADS, when set (the Makefile's test target sets 1), is the user's word for every heavy process.
    Otherwise the cores are split: training gets ``train_threads`` (or half the cores, rounded up), the eval the
    rest, at least one."""
    if os.environ.get('OMP_NUM_THREADS', '').isdigit():
        return max(1, int(os.environ['OMP_NUM_THREADS'])), train_threads
    cores = os.cpu_count() or 1
    train = train_threads or max(1, cores - cores // 2)
    return max(1, cores - train), train
