"""A quiet terminal: the known lines TensorFlow's C++ runtime and its Python libraries print at start-up, which
are not the project's and read like failures to a new user, kept off it. `VERBOSE=1` keeps everything.

TensorFlow 2.21 writes its start-up lines (`oneDNN custom operations are on`, `Could not find cuda drivers`,
`failed call to cuInit` on a machine with no GPU, `oneDNN supports DT_BOOL only on platforms with AVX-512`)
through absl's C++ logging before absl is initialised, straight to file descriptor 2, whatever
TF_CPP_MIN_LOG_LEVEL says; so descriptor 2 goes through a filter that drops those lines alone.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import warnings

NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ \w+\.cc:\d+\] (oneDNN custom operations are on|Could not find cuda drivers"
    r"|failed call to cuInit|oneDNN supports DT_BOOL only|This TensorFlow binary is optimized to use).*)$"
)
# Python warnings of the libraries under the pipeline that say nothing a user can act on.
WARNINGS = (
    (UserWarning, r"Input dict contained keys .* which did not match any model input"),  # tf_keras, Model Garden
    (UserWarning, r"Do not pass an `input_shape`/`input_dim` argument to a layer"),
    (FutureWarning, r"Support for google-cloud-storage < 3.0.0 will be removed"),  # aiplatform, under TFX
)


def _filter(read_fd: int, write_to: int) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = [line for line in lines if not NOISE.match(line.decode("utf-8", "replace"))]
            if kept:
                os.write(write_to, b"\n".join(kept) + b"\n")
        if pending and not NOISE.match(pending.decode("utf-8", "replace")):
            os.write(write_to, pending)


def quiet_terminal() -> None:
    """Filters descriptor 2 and the known warnings, unless VERBOSE=1; call before TensorFlow loads."""
    if os.environ.get("VERBOSE") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for category, message in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    original = os.dup(2)
    read_fd, write_fd = os.pipe()
    sys.stderr.flush()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    reader = threading.Thread(target=_filter, args=(read_fd, original), daemon=True)
    reader.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # the pipe's last writer here closes: the filter drains and ends
        reader.join(timeout=2)

    atexit.register(restore)
