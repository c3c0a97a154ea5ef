"""Readable training progress: one line per train loop on the terminal; Model Garden's logs to the log file.

Orbit prints a multi-line loss dictionary every loop (`train | step: ... output: {...}`); those prints go to
the `absl` logger (the run's log file under `maskrcnn-tfx run`), and the terminal gets one line a loop:
step / total, steps/s, images/s, loss, time left, and the last evaluation's mask AP50.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from typing import TextIO


class _ToLog(io.TextIOBase):
    def __init__(self, logger: logging.Logger):
        self._logger, self._buffer = logger, ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._logger.info(line)
        return len(text)


@contextlib.contextmanager
def prints_to_log():
    """Prints (Orbit's) go to the absl logger while training; yields the stream the terminal was."""
    terminal = sys.stdout
    with contextlib.redirect_stdout(_ToLog(logging.getLogger("absl"))):
        yield terminal


def duration(seconds: float) -> str:
    seconds = round(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class ProgressLine:
    """An Orbit train action: after each train loop, one line of progress on `out`."""

    def __init__(self, out: TextIO, global_step, total_steps: int, batch_size: int):
        self._out, self._global_step = out, global_step
        self._total, self._batch = total_steps, batch_size
        self._last = (time.perf_counter(), int(global_step.numpy()))
        self.mask_ap50: float | None = None  # the last evaluation's, shown when there is one

    def restart(self, mask_ap50: float) -> None:
        """After an evaluation: its mask AP50 on the next lines, and rates measured from now."""
        self.mask_ap50 = mask_ap50
        self._last = (time.perf_counter(), int(self._global_step.numpy()))

    def __call__(self, train_output) -> None:
        now, step = time.perf_counter(), int(self._global_step.numpy())
        rate = (step - self._last[1]) / max(now - self._last[0], 1e-9)
        self._last = (now, step)
        loss = (train_output or {}).get("total_loss")
        parts = [f"[train] step {step}/{self._total}", f"{rate:.2f} steps/s", f"{rate * self._batch:.1f} images/s"]
        if loss is not None:
            parts.append(f"loss {float(loss):.3f}")
        if rate > 0:
            parts.append(f"{duration((self._total - step) / rate)} left")
        if self.mask_ap50 is not None:
            parts.append(f"mask AP50 {self.mask_ap50:.3f}")
        print(" | ".join(parts), file=self._out, flush=True)
