"""Fixtures shared by the test files."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one thread is as fast, and immune to OpenMP stalls on a busy 2-core box."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """One small real build shared by the test files (mbv1 0.25, 16 px, W3A4, 3 test images,
    RTL and HLS, simulated). Read it, or copy it before changing anything."""
    from sat_hw.flow.cli import main

    out = tmp_path_factory.mktemp("b") / "build"
    argv = ["build", "--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "3",
            "--wbits", "3", "--abits", "4", "--out", str(out)]
    assert main(argv) == 0
    return out
