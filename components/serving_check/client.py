"""A REST client of TF Serving's predict protocol (TF Serving, KServe's v1, `maskrcnn-tfx serve`)."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request

from components.util import serving_contract as contract


class ServingError(RuntimeError):
    """A server that cannot be reached or refuses a request; the message names the URL and the reason."""


def predict_url(url: str) -> str:
    """`http://HOST:PORT/v1/models/NAME` (or its versions/N) -> its `:predict` URL."""
    return url if url.endswith(":predict") else url.rstrip("/") + ":predict"


def post(url: str, body: dict, timeout_s: float = 120) -> tuple[dict, int]:
    """The answer of one predict request and its size in bytes."""
    request = urllib.request.Request(
        predict_url(url), data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")
        with contextlib.suppress(json.JSONDecodeError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        raise ServingError(f"{predict_url(url)}: HTTP {error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ServingError(f"{predict_url(url)}: no answer: {getattr(error, 'reason', error)}") from None
    return json.loads(raw), len(raw)


def predict(url: str, encoded_images: list[bytes], timeout_s: float = 120) -> tuple[list[contract.Answer], int]:
    """`serving_default` on encoded photos: each photo's detections, and the answer's size in bytes."""
    body, size = post(url, contract.rest_body(encoded_images), timeout_s)
    return contract.answers(contract.from_rest(body)), size


def ready(url: str) -> bool:
    """Whether the model answers its status URL (KServe's v1 readiness; TF Serving's model status)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(url: str, deadline_s: float, alive=lambda: True) -> float:
    """Seconds until the model is ready; raises ServingError past the deadline or once `alive()` is false."""
    started = time.monotonic()
    while not ready(url):
        if not alive():
            raise ServingError(f"{url}: the model server exited before the model was ready")
        if time.monotonic() - started > deadline_s:
            raise ServingError(f"{url}: the model was not ready within {deadline_s:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started
