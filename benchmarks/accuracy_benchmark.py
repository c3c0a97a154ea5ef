"""What evaluating during training costs: the same training with an evaluation every N steps and without,
side by side in one run.

    scripts/container python benchmarks/accuracy_benchmark.py [--config cpu-demo] [--steps 800] [--interval 100]

The sample dataset (48 + 12 images) is ingested once; both trainings run through the Trainer's own training
function (components/trainer/training.py), each in a fresh model folder, one after the other. Prints the wall
time of both, the overhead in seconds and in % of the training without evaluations, and the accuracy points.
Target: at most 10 % at an interval of 100 steps.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def ingested_sample(work: str, num_train: int = 48, num_test: int = 12, size: tuple[int, int] = (512, 384)) -> str:
    from dataset.ingest import ingest
    from sample_data import sample

    sample.generate(
        os.path.join(work, "dataset"), num_train=num_train, num_test=num_test, num_unlabelled=0, sizes=(size,)
    )
    examples = os.path.join(work, "examples")
    ingest(os.path.join(work, "dataset"), examples)
    return examples


def params_for(examples: str, config: str, steps: int, **kwargs):
    from components.trainer import experiment

    return experiment.experiment_for_examples(config, examples, train_steps=steps, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cpu-demo")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--interval", type=int, default=100)
    args = parser.parse_args()

    from components.trainer import training
    from components.util.eval_split import load_eval_split
    from dataset import layout

    work = tempfile.mkdtemp(prefix="accuracy-bench-")
    examples = ingested_sample(work)
    evaluation = training.Evaluation(load_eval_split(examples), layout.read_label_map(examples), args.interval)
    records = {}
    for name, with_evaluation in (
        ("without evaluations", None),
        (f"evaluation every {args.interval} steps", evaluation),
    ):
        records[name] = training.train(
            params_for(examples, args.config, args.steps), os.path.join(work, name), with_evaluation
        )
    plain, evaluated = records.values()
    overhead = evaluated["wall_time_s"] - plain["wall_time_s"]
    print(
        f"\nconfig {args.config}, {args.steps} steps, {os.cpu_count()} CPUs, "
        f"{len(evaluation.split.images)} eval images\n"
    )
    print("| training | wall s | median step s | evaluations |")
    print("|---|---|---|---|")
    for name, record in records.items():
        print(
            f"| {name} | {record['wall_time_s']:.1f} | {record['median_step_s']:.3f} | "
            f"{len(record.get('accuracy_over_time') or [])} |"
        )
    print(
        f"\noverhead: {overhead:.1f} s, {100 * overhead / plain['wall_time_s']:+.1f}% of the training without "
        f"evaluations (target at most 10%)"
    )
    for point in evaluated["accuracy_over_time"]:
        print(
            f"  step {point['step']:5d}  {point['seconds']:7.1f} s  mask AP50 {point['mask_AP50']:.3f}  "
            f"mask AP {point['mask_AP']:.3f}  box AP50 {point['box_AP50']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
