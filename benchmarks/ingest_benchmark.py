"""Ingestion throughput and memory: Beam (DirectRunner processes or threads, Dask) vs a sequential reference.

    scripts/container python benchmarks/ingest_benchmark.py [--images 1000] [--large 4000] [--workers 2]

Generates the sample dataset at 512x384 (sample_data/sample.py), then runs, each in
its own process: the sequential reference (`dataset.ingest.run_sequential`: one
process, file after file) and the Beam ingestion (`dataset.beam_ingest.run_beam`) with
DirectRunner worker processes, with DirectRunner threads (what `maskrcnn-tfx
ingest --workers N` uses) and with the project's DaskRunner on a local Dask
cluster of N single-threaded worker processes (started before the clock starts,
as a cluster is already up), on `--images` and on `--large` images. All call the
same per-file function (`convert_item`: read, split instances, encode) and
write the same GZIP TFRecords.

Throughput is images per second of the ingestion itself (planning included,
Python imports excluded; Beam's worker start-up included), end to end and in
the steady state (from the difference between the two sizes, where fixed
start-up costs cancel out). Peak memory is the largest RSS of the whole process
tree (runner + Beam workers), sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _sample_tree(process, cpu_seconds: dict[int, float]) -> int:
    """RSS of the process tree; records each process's CPU seconds (kept after it exits)."""
    import psutil

    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            with p.oneshot():
                total += p.memory_info().rss
                times = p.cpu_times()
                cpu_seconds[p.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _run_child(mode: str, dataset: str, output: str, workers: int) -> dict:
    """Runs one ingestion in a child process; returns its report plus the tree's peak RSS."""
    import psutil

    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        mode,
        "--dataset",
        dataset,
        "--output",
        output,
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=REPO),
        text=True,
    )
    handle = psutil.Process(process.pid)
    peak = [0]
    cpu_seconds: dict[int, float] = {}
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], _sample_tree(handle, cpu_seconds))
            except psutil.NoSuchProcess:
                return
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{mode} ingestion failed (exit {process.returncode})")
    report = json.loads(stdout.strip().splitlines()[-1])
    report["peak_rss_mb"] = peak[0] / 2**20
    report["cpu_seconds"] = sum(cpu_seconds.values()) - report["cpu_seconds_before"]
    return report


def _child(mode: str, dataset: str, output: str, workers: int) -> None:
    import resource

    import apache_beam  # noqa: F401  (imports are excluded from the timing)
    import tensorflow  # noqa: F401

    from dataset import beam_ingest, ingest
    from dataset import output as output_folder
    from dataset import plan as planning
    from dataset.dask_runner_args import dask_runner_args

    cluster = None
    if mode == "dask":
        from dask.distributed import LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime  # the imports: not part of the ingestion
    started = time.monotonic()
    plan = planning.plan_ingest(dataset, planning.IngestOptions())
    output_folder.prepare_output_dir(output, overwrite=True)
    if mode == "sequential":
        summary = ingest.run_sequential(plan, output)
    elif mode == "dask":
        summary = beam_ingest.run_beam(
            plan,
            output,
            dask_runner_args(["--runner=DaskRunner", f"--dask_client_address={cluster.scheduler_address}"]),
        )
    else:
        summary = beam_ingest.run_beam(plan, output, BEAM_MODES[mode](workers))
    seconds = time.monotonic() - started
    if cluster:
        cluster.close()
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "cpu_seconds_before": cpu_before,
                "images": len(plan.items),
                "examples": sum(summary["num_examples"].values()),
                "instances": sum(summary["num_instances"].values()),
                "rejected": summary["num_rejected"],
            }
        )
    )


# Beam's DirectRunner: worker processes, or threads of one process (OpenCV, Pillow and zlib release the GIL
# for most of the per-image work; `maskrcnn-tfx ingest --workers N` uses threads).
BEAM_MODES = {
    "beam": lambda workers: ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"],
    "beam-threads": lambda workers: ["--direct_running_mode=multi_threading", f"--direct_num_workers={workers}"],
    "dask": None,  # dataset/dask_runner.py on a local cluster (see _child)
}
MODE_LABELS = {
    "sequential": "sequential reference, 1 process",
    "beam": "Beam DirectRunner multi_processing, {workers} workers",
    "beam-threads": "Beam DirectRunner multi_threading, {workers} threads",
    "dask": "Beam DaskRunner (project's), {workers} Dask worker processes",
}


def _subset(source: str, target: str, count: int) -> None:
    """The first `count` train images of `source` (hard links), with their masks and VOC files."""
    os.makedirs(target, exist_ok=True)
    shutil.copy(os.path.join(source, "label.pbtxt"), target)
    for folder in ("train_images", "train_masks", "train_bboxes"):
        os.makedirs(os.path.join(target, folder), exist_ok=True)
    for stem in sorted(os.path.splitext(n)[0] for n in os.listdir(os.path.join(source, "train_images")))[:count]:
        for folder, ext in (("train_images", ".jpg"), ("train_masks", ".png"), ("train_bboxes", ".xml")):
            src = os.path.join(source, folder, stem + ext)
            if os.path.exists(src):
                os.link(src, os.path.join(target, folder, stem + ext))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000, help="images of the throughput comparison")
    parser.add_argument("--large", type=int, default=4000, help="images of the memory comparison")
    parser.add_argument("--workers", type=int, default=2, help="Beam DirectRunner worker processes")
    parser.add_argument("--workdir", help="where to generate data (default: a temporary folder, removed)")
    parser.add_argument("--child", choices=("sequential", *BEAM_MODES), help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.dataset, args.output, args.workers)
        return 0

    from sample_data import sample

    workdir = args.workdir or tempfile.mkdtemp(prefix="ingest-benchmark-")
    try:
        large, small = os.path.join(workdir, f"dataset-{args.large}"), os.path.join(workdir, f"dataset-{args.images}")
        started = time.monotonic()
        if not os.path.exists(os.path.join(large, "label.pbtxt")):
            sample.generate(
                large,
                num_train=args.large,
                num_test=0,
                num_unlabelled=0,
                sizes=((512, 384),),
                seed=0,
                workers=os.cpu_count() or 1,
            )
        if not os.path.exists(os.path.join(small, "label.pbtxt")):
            _subset(large, small, args.images)
        print(f"generated {args.large} images 512x384 in {time.monotonic() - started:.0f} s ({workdir})", flush=True)

        results = {}
        for n, dataset in ((args.images, small), (args.large, large)):
            for mode in ("sequential", *BEAM_MODES):
                output = os.path.join(workdir, f"out-{mode}-{n}")
                report = _run_child(mode, dataset, output, args.workers)
                assert report["images"] == n, report
                results[mode, n] = report
                print(
                    f"  {mode:10s} {n:5d} images: {report['seconds']:6.1f} s, peak {report['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
                if mode != "sequential":
                    sequential = results["sequential", n]
                    assert (report["examples"], report["instances"], report["rejected"]) == (
                        sequential["examples"],
                        sequential["instances"],
                        sequential["rejected"],
                    ), "the Beam and sequential runs disagree"
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    _print_table(results, args.images, args.large, args.workers)
    return 0


def _print_table(results: dict, small: int, large: int, workers: int) -> None:
    def rate(mode, n):
        return n / results[mode, n]["seconds"]

    def marginal(mode):  # images/s once started: the fixed start-up cost cancels out
        return (large - small) / (results[mode, large]["seconds"] - results[mode, small]["seconds"])

    print()
    print("| run | images | wall s | images/s | vs sequential | CPU s (all processes) | peak RSS (process tree) |")
    print("|---|---|---|---|---|---|---|")
    modes = ("sequential", *BEAM_MODES)
    for n in (small, large):
        for mode in modes:
            r = results[mode, n]
            print(
                f"| {MODE_LABELS[mode].format(workers=workers)} | {n} | {r['seconds']:.1f} | {rate(mode, n):.1f} | "
                f"{rate(mode, n) / rate('sequential', n):.2f}x | {r['cpu_seconds']:.1f} | {r['peak_rss_mb']:.0f} MB |"
            )
    print()
    for mode in BEAM_MODES:
        speedups = {n: rate(mode, n) / rate("sequential", n) for n in (small, large)}
        steady = marginal(mode) / marginal("sequential")
        memory = results[mode, large]["peak_rss_mb"] / results[mode, small]["peak_rss_mb"]
        cpu = {
            m: (results[m, large]["cpu_seconds"] - results[m, small]["cpu_seconds"]) / (large - small) * 1000
            for m in ("sequential", mode)
        }
        print(f"{MODE_LABELS[mode].format(workers=workers)}:")
        print(
            f"  end-to-end speed-up: {speedups[small]:.2f}x at {small} images, {speedups[large]:.2f}x at {large} "
            f"(target >= 1.5x)"
        )
        print(
            f"  steady-state images/s (from the {large}-{small} difference): sequential "
            f"{marginal('sequential'):.1f}, Beam {marginal(mode):.1f}: {steady:.2f}x"
        )
        print(f"  peak memory at {large} vs {small} images: {memory:.2f}x (target <= 1.3x)")
        print(
            f"  CPU per image (from the difference): sequential {cpu['sequential']:.1f} ms, "
            f"Beam {cpu[mode]:.1f} ms (all processes)"
        )


if __name__ == "__main__":
    sys.exit(main())
