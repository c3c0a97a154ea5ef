"""Progress of long work that is not training (ingestion of a large folder, evaluation): a line at most every
`seconds`, counting what this process has done (thread-safe: Beam's DirectRunner runs threads)."""

from __future__ import annotations

import sys
import threading
import time

_shared: dict[tuple[str, int, str], Progress] = {}
_lock = threading.Lock()


class Progress:
    def __init__(self, what: str, total: int, seconds: float = 10.0):
        self._what, self._total, self._seconds = what, total, seconds
        self._done, self._started = 0, time.monotonic()
        self._shown = self._started
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, what: str, total: int, run: str) -> Progress:
        """One counter per process for this run of the work (`run`: a token the work's DoFn carries), whichever
        Beam worker thread counts; a second run in the same process counts from zero."""
        with _lock:
            return _shared.setdefault((what, total, run), cls(what, total))

    def add(self, count: int = 1) -> None:
        with self._lock:
            self._done += count
            now = time.monotonic()
            if now - self._shown < self._seconds and self._done < self._total:
                return
            self._shown = now
            done, elapsed = self._done, now - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = f", about {(self._total - done) / rate:.0f} s left" if rate and done < self._total else ""
        print(f"{self._what}: {done} of {self._total} ({rate:.1f}/s{left})", file=sys.stdout, flush=True)
