"""oneDNN and float16 on the CPU. On a Xeon with AVX512-FP16 a float16 convolution's gradient is tens of times
slower with oneDNN than with Eigen, and so is a float16 config's training step (benchmarks/RESULTS.md, GPU path:
dry runs; docs/training.md, configs on a CPU). Without AVX512-FP16 oneDNN leaves float16 to
Eigen, so how slow a float16 config is on a CPU depends on the CPU. TensorFlow reads TF_ENABLE_ONEDNN_OPTS once,
when it loads: the commands decide before importing it."""

from __future__ import annotations

import os
import sys

from components.trainer.config_files import precision

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
REASON = (
    "on CPUs with AVX512-FP16 oneDNN's float16 convolution gradients are about 60 times slower than "
    "Eigen's (docs/training.md, Configs on a CPU)"
)


def off_for_float16(config: str, overrides: list[str]) -> str | None:
    """Turns oneDNN off for a float16 config, unless TensorFlow has loaded or the variable is set; the line to
    print when it did (a GPU's own kernels are not oneDNN's: only the CPU's float16 work changes)."""
    if precision(config, overrides) != "float16" or VARIABLE in os.environ or "tensorflow" in sys.modules:
        return None
    os.environ[VARIABLE] = "0"
    return f"{config} trains in float16: oneDNN off ({VARIABLE}=0), since {REASON}"
