"""The launcher's decisions (scripts/container, sourced in bash): output folders, podman's configuration."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[1] / "scripts" / "container"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    # From /: paths under the working directory are mounted with it and listed by no one.
    return subprocess.run(
        ["bash", "-c", f"source {LAUNCHER}; {script}"],
        cwd="/",
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_an_output_folder_that_does_not_exist_yet_is_created_and_mounted(tmp_path):
    output = tmp_path / "runs" / "new" / "pipeline"
    done = bash(
        f"path_mounts --pipeline-root {output} --dataset {tmp_path}/data --output={tmp_path}/a/b/report", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "runs" / "new").is_dir() and (tmp_path / "a" / "b").is_dir()
    assert not output.exists()  # the command makes its own folder, inside the mounted parent
    assert not (tmp_path / "data").exists()  # an input that does not exist is the command's to report
    assert set(done.stdout.split()) == {str(tmp_path / "runs" / "new"), str(tmp_path), str(tmp_path / "a" / "b")}


def test_an_output_in_an_unmounted_system_folder_is_refused(tmp_path):
    done = bash("path_mounts --output /opt/nowhere/out", tmp_path)
    assert done.returncode == 2
    assert "--output /opt/nowhere/out" in done.stderr and "would be lost" in done.stderr
    assert not Path("/opt/nowhere").exists()


@pytest.mark.parametrize("version, variable", [("4.3.1", "CONTAINERS_CONF"), ("4.9.3", "CONTAINERS_CONF_OVERRIDE")])
@pytest.mark.parametrize("cgroup2, runtime", [(True, None), (False, "runc")])
def test_podman_gets_settings_added_to_its_configuration_and_runc_only_where_crun_fails(
    tmp_path, version, variable, cgroup2, runtime
):
    done = bash(
        f"podman() {{ echo {version}; }}; cgroups_v2() {{ return {0 if cgroup2 else 1}; }}; podman_config; "
        f'echo "CONF=${{CONTAINERS_CONF:-}} OVERRIDE=${{CONTAINERS_CONF_OVERRIDE:-}}"; cat "$STATE/containers.conf"',
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    conf = str(tmp_path / ".cache" / "maskrcnn-tfx" / "containers.conf")
    assert (f"CONF={conf} OVERRIDE=" if variable == "CONTAINERS_CONF" else f"CONF= OVERRIDE={conf}") in done.stdout
    assert ('runtime = "runc"' in done.stdout) is (runtime == "runc")
    assert "default_ulimits" in done.stdout


@pytest.mark.parametrize("engine, expected", [("podman", "--device nvidia.com/gpu=all"), ("docker", "--gpus all")])
def test_the_gpu_image_gets_the_hosts_gpus_and_says_so(tmp_path, engine, expected):
    gpus = bash(
        f'nvidia-smi() {{ echo "GPU 0: NVIDIA A100 (UUID: GPU-1)"; }}; VARIANT=gpu ENGINE={engine} gpu_args', tmp_path
    )
    assert gpus.stdout.strip() == expected and "passing the host's GPUs to the container (1 found)" in gpus.stderr
    none = bash(f"VARIANT=gpu ENGINE={engine} gpu_args", tmp_path)
    assert none.stdout.strip() == "" and "no NVIDIA GPU on this host: the GPU image runs on the CPU" in none.stderr
    assert bash(f"VARIANT=cpu ENGINE={engine} gpu_args", tmp_path).stdout.strip() == ""


def test_a_set_up_phase_is_one_line_with_its_time_and_its_output_goes_to_the_log(tmp_path):
    done = bash(
        "phase 'making things (about 1 second)' bash -c 'echo from stdout; echo from stderr >&2'; "
        "phase 'more things' true; echo \"LOG=$SETUP_LOG\"",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    log = done.stdout.split("LOG=")[1].strip()
    lines = done.stderr.splitlines()
    assert lines[0] == f"[container] set-up log: {log} (VERBOSE=1 shows it as it goes)"
    assert re.fullmatch(r"\[container\] making things \(about 1 second\) \.\.\. done in \d+ s", lines[1])
    assert re.fullmatch(r"\[container\] more things \.\.\. done in \d+ s", lines[2]) and len(lines) == 3
    assert Path(log).read_text().splitlines() == ["from stdout", "from stderr"]


def test_a_failed_set_up_phase_shows_the_logs_last_lines_and_where_the_rest_is(tmp_path):
    done = bash(
        "phase 'building (about 6 minutes)' bash -c 'for i in $(seq 100); do echo step $i; done; exit 3'; "
        "echo not reached",
        tmp_path,
    )
    assert done.returncode == 3 and "not reached" not in done.stdout
    assert re.search(
        r"FAILED after \d+ s: building \(about 6 minutes\)\. The last lines of \S+setup-\S+\.log:", done.stderr
    )
    shown = [line.strip() for line in done.stderr.splitlines() if line.strip().startswith("step ")]
    assert shown == [f"step {i}" for i in range(71, 101)]


def test_verbose_streams_the_set_up_output(tmp_path):
    done = bash("VERBOSE=1 phase 'making things' bash -c 'echo from the step'", tmp_path)
    assert done.returncode == 0 and "from the step" in done.stderr and "making things: done in" in done.stderr
