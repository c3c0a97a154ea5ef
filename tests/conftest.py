"""Shared fixtures and helpers of the test suite."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from dataset import layout, records
from dataset import plan as planning
from dataset.convert import convert_item
from dataset.records import feature_values as feature  # the tests' way to read a feature (from conftest)

# Fixtures in modules of their own: the bad inputs' dataset, the compiled Kubeflow package, the contract run's install,
# the runs on datasets unlike the sample, and the runs beside the other tests (those and two more).
pytest_plugins = ("bad_inputs", "kubeflow_package", "kfp_contract", "own_runs", "side_runs")

REPO = Path(__file__).resolve().parents[1]
# `make test` gives the tests the image built from the current sources and the engine's Docker API (DOCKER_HOST).
IMAGE = os.environ.get("MASKRCNN_TFX_IMAGE", "")

# `make test-quick` leaves out the tests marked slow: these modules (every shipped config's dry run, whole
# pipeline runs, the cluster contract run, the image's own containers) and every test using a fixture below.
SLOW_MODULES = {
    "test_configs.py",
    "test_pipeline.py",
    "test_own_data.py",
    "test_kfp_backend.py",
    "test_kfp_install.py",
    "test_image.py",
    "test_time_to_accuracy.py",
}
SLOW_FIXTURES = {"trained_pipeline", "engine", "own_runs"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def engine():
    """The container engine's Docker API, for the tests that start containers of the project image."""
    import docker

    if not IMAGE or not os.environ.get("DOCKER_HOST"):
        pytest.fail("these tests need the project image and its engine: run them with `make test`")
    return docker.from_env(timeout=600)  # a cold container imports TensorFlow and Model Garden for a minute


def _tree(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts and ".pytest_cache" not in p.parts
    }


@pytest.fixture(scope="session", autouse=True)
def repository_untouched():
    """Tests write under temporary folders only: no file appears in or vanishes from the working tree, and
    nothing under outputs/ (where `make run` writes) changes."""
    before = _tree(REPO)
    yield
    after = _tree(REPO)
    changed = sorted(name for name in before.keys() ^ after.keys()) + sorted(
        name for name in before.keys() & after.keys() if name.startswith("outputs/") and before[name] != after[name]
    )
    assert not changed, f"tests wrote into the repository: {changed[:10]}"


# --- ingestion ---------------------------------------------------------------
SAMPLE_SIZE = (256, 192)
SAMPLE_NUM_TRAIN = 9
SAMPLE_NUM_TEST = 3
SAMPLE_NUM_UNLABELLED = 1
# In-process Beam: the test datasets are tiny, worker processes would only add start-up time.
IN_MEMORY_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory) -> Path:
    """A small generated dataset in the seed layout (read-only: copy it with `copy_dataset` to change it)."""
    from sample_data import sample

    out = tmp_path_factory.mktemp("sample") / "dataset"
    sample.generate(
        out,
        num_train=SAMPLE_NUM_TRAIN,
        num_test=SAMPLE_NUM_TEST,
        num_unlabelled=SAMPLE_NUM_UNLABELLED,
        sizes=(SAMPLE_SIZE,),
        seed=7,
    )
    return out


@pytest.fixture(scope="session")
def sample_ingested(sample_dataset, tmp_path_factory) -> Path:
    """The sample dataset ingested with the Beam transform (the output folder)."""
    out = tmp_path_factory.mktemp("sample_ingested") / "examples"
    ingest_folder(sample_dataset, out)
    return out


LEGACY_LABELS = "item {\n  id: 1\n  name: 'speaker076'\n}\nitem {\n  id: 2\n  name: 'mug150'\n}\n"
SPEAKER, MUG = 76, 150


def write_image(path: Path, rgb: np.ndarray) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    ok, data = cv2.imencode(".png" if ext == ".png" else ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(data.tobytes())
    return data.tobytes()


def write_gray_png(path: Path, gray: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", gray.astype(np.uint8))
    assert ok
    path.write_bytes(data.tobytes())


def photo(width: int = 96, height: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


def mini_seed(root: Path, labels: str = LEGACY_LABELS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "label.pbtxt").write_text(labels)
    (root / "train_images").mkdir(exist_ok=True)
    (root / "train_masks").mkdir(exist_ok=True)
    return root


def plan_items(root: Path, **options) -> dict[str, records.WorkItem]:
    plan = planning.plan_ingest(str(root), planning.IngestOptions(**options))
    return {item.rel_path: item for item in plan.items}


def convert(root: Path, rel_path: str, min_instance_area: int = 16) -> records.Outcome:
    plan = planning.plan_ingest(str(root), planning.IngestOptions(min_instance_area=min_instance_area))
    item = next(i for i in plan.items if i.rel_path == rel_path)
    return convert_item(item, plan.label_map, min_instance_area, plan.dataset_dir)


def parse(outcome: records.Outcome):
    import tensorflow as tf

    assert outcome.example is not None, outcome.reason
    return tf.train.Example.FromString(outcome.example)


def decoded_masks(example) -> list[np.ndarray]:
    return [
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        for png in feature(example, records.OBJECT_MASK)
    ]


VOC = """<annotation><filename>a.jpg</filename><size><width>{width}</width><height>{height}</height></size>
{objects}</annotation>"""
VOC_OBJECT = (
    "<object><name>{name}</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin><xmax>{2}</xmax><ymax>{3}</ymax>"
    "</bndbox></object>"
)


def voc(*objects, size=(96, 64)) -> str:
    return VOC.format(
        objects="".join(VOC_OBJECT.format(*box, name=name) for name, box in objects), width=size[0], height=size[1]
    )


def copy_dataset(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def ingest_folder(dataset: Path, output: Path, check: bool = False, **options) -> dict:
    """Plans and runs the Beam ingestion in-process; returns the summary."""
    from dataset.ingest import ingest

    return ingest(str(dataset), str(output), planning.IngestOptions(**options), IN_MEMORY_BEAM_ARGS, check=check)


def read_examples(output: Path, split: str) -> list:
    """The split's tf.train.Example protos."""
    import tensorflow as tf

    files = tf.io.gfile.glob(layout.record_pattern(str(output), split))
    examples = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        examples.append(tf.train.Example.FromString(record.numpy()))
    return examples


# --- pipeline ----------------------------------------------------------------
# The end-to-end run: enough steps for the tiny model to detect something, so that its in-training and final
# evaluations compare numbers other than zeros (no test requires a score); scored twice in training.
TINY_TRAIN_STEPS = 150
TINY_EVAL_INTERVAL = 75
PIPELINE_NUM_TRAIN = 32
PIPELINE_NUM_TEST = 12  # fewer eval images make AP too noisy to compare two models


@pytest.fixture(scope="session")
def pipeline_dataset(tmp_path_factory) -> Path:
    """A larger sample than `sample_dataset`: enough instances for the tiny model to learn something."""
    from sample_data import sample

    out = tmp_path_factory.mktemp("pipeline-sample") / "dataset"
    # one photo of each split without object (mask all background): Model Garden's parser, the trainer and
    # the COCO evaluation run on negative examples in both splits
    sample.generate(
        out,
        num_train=PIPELINE_NUM_TRAIN - 1,
        num_test=PIPELINE_NUM_TEST - 1,
        num_unlabelled=1,
        sizes=(SAMPLE_SIZE,),
        seed=11,
        num_background=1,
    )
    return out


def tiny_pipeline(dataset: Path, root: str, **changes):
    """The end-to-end run's PipelineConfig (the tiny config, evaluated while training), with `changes`."""
    from pipeline.settings import PipelineConfig, TrainingSettings

    return PipelineConfig(
        **{
            "dataset": str(dataset),
            "pipeline_root": root,
            "train_steps": TINY_TRAIN_STEPS,
            "serving_dir": os.path.join(root, "serving"),
            "training": TrainingSettings(config="tiny", eval_interval=TINY_EVAL_INTERVAL),
            **changes,
        }
    )


@pytest.fixture(scope="session")
def trained_pipeline(pipeline_dataset, tmp_path_factory) -> dict:
    """The local pipeline run once on the sample dataset with the tiny config; its run summary and what it
    printed. Shared by every test that reads a trained, evaluated, pushed run."""
    from pipeline import local_runner, run_summary

    root = str(tmp_path_factory.mktemp("pipeline-root"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run_id = local_runner.run(tiny_pipeline(pipeline_dataset, root))
    return {**run_summary.latest_run(root, run_id), "printed": printed.getvalue()}
