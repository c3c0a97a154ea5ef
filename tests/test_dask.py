"""The Beam steps on a Dask cluster (dataset/dask_runner.py) give what the DirectRunner gives.

A scheduler and two single-threaded worker processes on this machine (`dask scheduler`, `dask worker` on loopback)
stand in for a cluster, started and stopped by each test; the workers run the installed package (no working tree,
no PYTHONPATH), as a cluster's would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow_data_validation as tfdv

from components.data_gate.executor import DataValidationError
from conftest import ingest_folder, read_examples
from dataset import layout, records
from gate_helpers import rewrite_examples, run_until_gate

NUM_WORKERS = 2


@pytest.fixture
def dask_address(tmp_path_factory):
    from dask.distributed import Client

    work = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = work / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Dask's Active Memory Manager drops surplus copies of results every 2 s; every 50 ms here, so that what depends
    # on a copy's lifetime fails every time, not by chance: with dask's disk shuffle (a partd folder deleted with the
    # copy that made it) the statistics test below failed 3 runs in 3 at 50 ms, 4 in 7 at 2 s.
    env["DASK_DISTRIBUTED__SCHEDULER__ACTIVE_MEMORY_MANAGER__INTERVAL"] = "50ms"
    dask = [os.path.join(os.path.dirname(sys.executable), "dask"), "%s", "--no-dashboard"]
    logs = open(work / "cluster.log", "w")  # noqa: SIM115 - the cluster writes it until the teardown closes it
    processes = [
        subprocess.Popen(
            [arg.replace("%s", "scheduler") for arg in dask]
            + ["--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(scheduler_file)],
            cwd=work,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (work / "cluster.log").read_text()
            time.sleep(0.2)
        processes += [
            subprocess.Popen(
                [arg.replace("%s", "worker") for arg in dask]
                + ["--nthreads", "1", "--scheduler-file", str(scheduler_file)],
                cwd=work,
                env=env,
                stdout=logs,
                stderr=subprocess.STDOUT,
            )
            for _ in range(NUM_WORKERS)
        ]
        with Client(scheduler_file=str(scheduler_file)) as client:
            client.wait_for_workers(NUM_WORKERS, timeout=120)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(30)
        logs.close()


def dask_args(address: str) -> list[str]:
    return ["--runner=DaskRunner", f"--dask_client_address={address}"]


def _records(output: Path) -> dict[str, list[bytes]]:
    return {
        split: sorted(e.SerializeToString(deterministic=True) for e in read_examples(output, split))
        for split in layout.SPLITS
    }


def test_ingestion_on_dask_writes_what_the_direct_runner_writes(bad_dataset, dask_address, tmp_path, capsys):
    from pipeline import cli

    direct = tmp_path / "direct"
    ingest_folder(bad_dataset, direct)
    on_dask = tmp_path / "dask"
    argv = ["ingest", "--dataset", str(bad_dataset), "--output", str(on_dask), "--max-reject-fraction", "0.7"]
    assert cli.main(argv + [f"--beam-arg={a}" for a in dask_args(dask_address)]) == 0, capsys.readouterr().err

    assert _records(on_dask) == _records(direct)
    assert all(_records(on_dask).values())
    assert layout.read_rejects(str(on_dask)) == layout.read_rejects(str(direct))
    summary, expected = layout.read_summary(str(on_dask)), layout.read_summary(str(direct))
    for key in (
        "num_inputs",
        "num_unlabelled",
        "num_examples",
        "num_instances",
        "num_negative",
        "num_rejected",
        "pixels_reassigned_by_input",
    ):
        assert summary[key] == expected[key], key
    assert summary["num_rejected"] == 16


def test_without_an_address_ingestion_runs_on_a_local_dask_cluster(sample_dataset, tmp_path, capsys):
    from pipeline import cli

    direct = tmp_path / "direct"
    ingest_folder(sample_dataset, direct)
    on_dask = tmp_path / "dask"
    assert (
        cli.main(
            ["ingest", "--dataset", str(sample_dataset), "--output", str(on_dask), "--beam-arg=--runner=DaskRunner"]
        )
        == 0
    ), capsys.readouterr().err
    assert _records(on_dask) == _records(direct)


def _statistics(root: Path) -> dict[str, dict]:
    """Per split: the number of examples and, per feature path, how many examples hold it, how many values there
    are, and the smallest, largest and mean value (numbers) or the number of distinct values (strings)."""
    found = {}
    for folder, _, files in os.walk(root / "StatisticsGen"):
        if "FeatureStats.pb" in files:
            [dataset] = tfdv.load_stats_binary(os.path.join(folder, "FeatureStats.pb")).datasets
            features = {}
            for f in dataset.features:
                if f.HasField("num_stats"):
                    common = f.num_stats.common_stats
                    values = (f.num_stats.min, f.num_stats.max, round(f.num_stats.mean, 6))
                elif f.HasField("string_stats"):
                    common, values = f.string_stats.common_stats, (f.string_stats.unique,)
                else:
                    common, values = f.bytes_stats.common_stats, ()
                features[f.path.step[0]] = (common.num_non_missing, common.tot_num_values, *values)
            found[os.path.basename(folder)] = {"num_examples": dataset.num_examples, "features": features}
    return found


def _gate_report(root: Path) -> str:
    [folder] = [d for d, _, files in os.walk(root / "DataGate") if "validation_report.txt" in files]
    return (Path(folder) / "validation_report.txt").read_text()


@pytest.mark.slow  # two pipelines of the validation steps
def test_validation_on_dask_computes_the_direct_runners_statistics_and_passes_the_gate(
    sample_ingested, dask_address, tmp_path
):
    run_until_gate(sample_ingested, tmp_path / "direct", train=False)
    run_until_gate(sample_ingested, tmp_path / "dask", train=False, beam_pipeline_args=dask_args(dask_address))

    on_dask = _statistics(tmp_path / "dask")
    assert on_dask == _statistics(tmp_path / "direct")
    assert on_dask["Split-train"]["num_examples"] > 0 and records.OBJECT_MASK in on_dask["Split-train"]["features"]
    assert _gate_report(tmp_path / "dask").endswith("anomalies: none")


@pytest.mark.slow  # a pipeline on Dask
def test_bad_examples_stop_the_pipeline_on_dask_too(sample_ingested, dask_address, tmp_path):
    # The gate reads every example: upstream's DaskRunner turned that read into nothing, and passed.
    examples = shutil.copytree(sample_ingested, tmp_path / "examples")

    def unknown_class(feature):
        feature[records.CLASS_LABEL].int64_list.value[0] = 7

    rewrite_examples(examples, "train", unknown_class)
    with pytest.raises(DataValidationError, match=r"class ids \[7\] are not in the label map"):
        run_until_gate(examples, tmp_path / "root", beam_pipeline_args=dask_args(dask_address))
    assert not (tmp_path / "root" / "Trainer").exists()


def test_a_step_the_dask_runner_cannot_run_is_refused_by_name(dask_address):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from dataset.dask_runner import UnsupportedOnDask
    from dataset.dask_runner_args import dask_runner_args

    options = PipelineOptions(dask_runner_args(dask_args(dask_address)))
    with (
        pytest.raises(UnsupportedOnDask, match=r"cannot run 'Minutes'.*run this step on another runner"),
        beam.Pipeline(options=options) as pipeline,
    ):
        _ = pipeline | beam.Create([1, 2, 3]) | "Minutes" >> beam.WindowInto(beam.window.FixedWindows(60))
