"""ServingCheck's executor: start the model server on the candidate, wait for it, ask it, compare, bless."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils

from components.serving_check import client, constants
from components.util import serving
from components.util import serving_contract as contract
from storage import fileio

# What TFX's InfraValidator writes (tfx/components/infra_validator/executor.py) and TFX's Pusher reads
# (tfx/components/util/model_utils.py is_infra_validated).
BLESSED_PROPERTY, BLESSED_FILE, NOT_BLESSED_FILE = "blessed", "INFRA_BLESSED", "INFRA_NOT_BLESSED"
SERVER_MODULE = "components.serving_check.server"
MODEL_NAME = "candidate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def model_server(model_dir: str, log_path: str, timings_path: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The model server in a fresh process on loopback; its URL and process. Stopped on exit."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                SERVER_MODULE,
                "--model",
                model_dir,
                "--port",
                str(port),
                "--name",
                MODEL_NAME,
                "--timings",
                timings_path,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}/v1/models/{MODEL_NAME}", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the answers are in: no graceful drain needed
        process.wait()


def _tail(path: str, lines: int = 8) -> str:
    with open(path, errors="replace") as f:
        return " | ".join(line.strip() for line in f.read().splitlines()[-lines:] if line.strip())


def check(
    model_dir: str, images: list[bytes], expected: list[contract.Answer], deadline_s: float, work_dir: str
) -> dict:
    """Serves the model, asks for each image's answer and compares it with `expected`; the report (`ok`,
    `reason`, timings). Raises nothing: a model that does not load or answer is a report saying why."""
    report: dict = {"ok": False, "model": model_dir, "server": SERVER_MODULE}
    log_path, timings_path = os.path.join(work_dir, constants.SERVER_LOG_FILE), os.path.join(work_dir, "timings")
    started = time.monotonic()
    with model_server(model_dir, log_path, timings_path) as (url, process):
        try:
            report["ready_s"] = round(client.wait_ready(url, deadline_s, alive=lambda: process.poll() is None), 2)
        except client.ServingError as error:
            report["reason"] = f"the model server did not load the model: {error} ({_tail(log_path)})"
            return report
        with open(timings_path) as f:
            report["server"] = {**json.load(f), "module": SERVER_MODULE}
        latencies, sizes = [], []
        for number, (image, wanted) in enumerate(zip(images, expected, strict=True), start=1):
            try:
                sent = time.perf_counter()
                answer, size = client.predict(url, [image])
                latencies.append(time.perf_counter() - sent)
                sizes.append(size)
            except (client.ServingError, KeyError, ValueError) as error:
                report["reason"] = f"the model server loaded the model but did not answer eval image {number}: {error}"
                return report
            difference = answer[0].differs_from(wanted)
            if difference:
                report["reason"] = f"the server's answer for eval image {number} is not the evaluator's: {difference}"
                return report
        for i in range(constants.STEADY_REQUESTS):
            sent = time.perf_counter()
            client.predict(url, [images[i % len(images)]])
            latencies.append(time.perf_counter() - sent)
    report.update(
        ok=True,
        reason=f"served and answered {len(images)} eval images as the evaluator saw them",
        first_request_ms=round(1000 * latencies[0], 1),
        steady_request_ms=round(1000 * statistics.median(latencies[1:]), 1),
        answer_bytes=max(sizes),
        wall_s=round(time.monotonic() - started, 1),
    )
    return report


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        from tfx.components.util import model_utils

        from components.util.eval_split import load_eval_split

        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        evaluation = artifact_utils.get_single_instance(input_dict[standard_component_specs.EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(input_dict[standard_component_specs.BLESSING_KEY])
        infra_blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.INFRA_BLESSING_KEY])
        fileio.makedirs(infra_blessing.uri)

        model_dir = path_utils.serving_model_dir(model.uri)
        served = serving.served_version_of(model_dir, exec_properties.get(constants.SERVING_DIR_KEY) or "")
        if not model_utils.is_model_blessed(blessing):
            report = {"ok": False, "reason": "not checked: the evaluator did not bless the model"}
        elif served:  # a rerun from the cache: checked before its push
            report = {
                "ok": True,
                "reason": f"already served as version {os.path.basename(served)}: checked before that push",
                "served": served,
            }
        else:
            answers_path = fileio.join(evaluation.uri, contract.ANSWERS_FILE)
            expected = [contract.Answer.from_json(a) for a in json.loads(fileio.read_text(answers_path))]
            images = [image.encoded for image in load_eval_split(examples.uri).images[: len(expected)]]
            with tempfile.TemporaryDirectory(prefix="serving-check-") as work_dir:
                report = check(
                    model_dir, images, expected, float(exec_properties[constants.LOAD_DEADLINE_KEY]), work_dir
                )
                fileio.write_text(
                    fileio.join(infra_blessing.uri, constants.SERVER_LOG_FILE),
                    Path(work_dir, constants.SERVER_LOG_FILE).read_text(errors="replace"),
                )
        print(f"[serving check] {'passed' if report['ok'] else 'FAILED'}: {report['reason']}", flush=True)
        fileio.write_text(fileio.join(infra_blessing.uri, constants.REPORT_FILE), json.dumps(report, indent=2))
        infra_blessing.set_int_custom_property(BLESSED_PROPERTY, int(report["ok"]))
        infra_blessing.set_string_custom_property("reason", report["reason"])
        fileio.write_text(
            fileio.join(infra_blessing.uri, BLESSED_FILE if report["ok"] else NOT_BLESSED_FILE), report["reason"] + "\n"
        )
