"""tune_malloc: freed working memory goes back to the OS at once, not at the next trim."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rtvi_edge.memory import libc_trim, tune_malloc

# An engine's turn as glibc sees it: one large block freed (which, by default, raises the
# mmap threshold), then 100 MiB of 1 MiB blocks used and freed while a block
# allocated after them stays alive (so the heap cannot shrink from its top).
PROBE = """
import ctypes, sys
from rtvi_edge.memory import tune_malloc
if sys.argv[1] == "tuned":
    tune_malloc({})
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
libc.free(libc.malloc(1 << 20))
before = rss()
blocks = [libc.malloc(1 << 20) for _ in range(100)]
for b in blocks:
    ctypes.memset(b, 1, 1 << 20)
pin = libc.malloc(200 << 10)  # above the blocks, at the top of the heap
for b in blocks:
    libc.free(b)
print((rss() - before) // 1024)
"""


def kept_mib(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(libc_trim() is None, reason="not glibc")
def test_freed_blocks_return_at_once_when_tuned() -> None:
    assert kept_mib("default") >= 90  # glibc's default keeps them in the heap
    assert kept_mib("tuned") <= 5


def test_the_environment_wins() -> None:
    # An admin's MALLOC_* settings are left alone (and the call still succeeds on glibc).
    env = {"MALLOC_ARENA_MAX": "8", "MALLOC_MMAP_THRESHOLD_": "65536"}
    assert tune_malloc(env) is (libc_trim() is not None)
