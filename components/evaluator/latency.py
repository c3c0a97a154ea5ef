"""Latency and throughput of a SavedModel signature, called as a server calls it (encoded image bytes)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

WARMUP_CALLS = 2
LATENCY_CALLS = 50  # timed batch-1 calls at least: the p95 of a dozen calls is just their slowest


def call(predict: Callable, encoded: list[bytes]) -> dict[str, np.ndarray]:
    """One call of the signature on a batch of encoded images, its outputs fetched."""
    return {key: value.numpy() for key, value in predict(tf.constant(encoded)).items()}


def timed_call(predict: Callable, encoded: bytes, seconds: list[float]) -> dict[str, np.ndarray]:
    """A batch-1 call whose wall time is appended to `seconds`."""
    started = time.perf_counter()
    outputs = call(predict, [encoded])
    seconds.append(time.perf_counter() - started)
    return outputs


def latency(seconds: list[float]) -> dict:
    return {
        "batch_size": 1,
        "median_ms": round(1000 * statistics.median(seconds), 2),
        "p95_ms": round(1000 * float(np.percentile(seconds, 95)), 2),
        "images_per_s": round(1 / statistics.median(seconds), 2),
    }


def throughput(predict: Callable, images: list[tuple[bytes, tuple[int, int]]], batch_size: int, calls: int = 3) -> dict:
    """Images/s at a larger batch of same-sized images (the bytes signature stacks them); images are
    (encoded, (height, width))."""
    by_size: dict[tuple[int, int], list[bytes]] = {}
    for encoded, size in images:
        by_size.setdefault(size, []).append(encoded)
    group = max(by_size.values(), key=len)
    batch = [group[i % len(group)] for i in range(batch_size)]
    call(predict, batch)
    started = time.perf_counter()
    for _ in range(calls):
        call(predict, batch)
    return {"batch_size": batch_size, "images_per_s": round(batch_size * calls / (time.perf_counter() - started), 2)}
