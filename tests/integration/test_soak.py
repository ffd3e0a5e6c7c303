"""The short fault-injection soak (bench/soak.py) on the local stack: every fault kind on, every
invariant must hold (docs/reliability.md#fault-injection-soak)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.soak

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def load_soak():
    spec = importlib.util.spec_from_file_location("vidpipe_bench_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_soak_holds_its_invariants_with_every_fault_on():
    soak = load_soak()
    rates = dict.fromkeys(soak.FAULTS, 0.08)
    result = soak.soak(
        uploads=8,
        rates=rates,
        stages=["frame-extract", "rekognition"],
        seconds=1.5,
        timeout_s=90,
        seed=7,
    )
    soak.print_table(result)
    assert result["broken"] == []
    assert sum(result["faults"].values()) > 0
    assert result["uploads_lost"] == result["orphaned_objects"] == result["temp_files_left"] == 0
    assert set(result["executions_per_succeeded_stage"]) <= {1}
