"""Fine-tuning against training from scratch, side by side in one run.

    scripts/container python benchmarks/finetune_benchmark.py [--pretrain-steps 800] [--steps 400] [--interval 50]

Dataset A (speakers and mugs, the sample's) pre-trains a model with the demo config; dataset B (balls,
bottles and books: other classes, shapes and mask colours, 48 + 12 images) is then trained for the same
number of steps twice: from A's checkpoint (`--init-modules all`: everything but the class layers) and from
scratch, both scored every `--interval` steps. Prints mask AP50 and AP after the steps and the steps (and
training seconds) each needed to reach the blessing threshold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.accuracy_benchmark import params_for  # noqa: E402

B_CLASSES = (("ball", (230, 120, 0), "ball"), ("bottle", (0, 90, 200), "bottle"), ("book", (0, 200, 90), "book"))


def ingested(work: str, name: str, classes=None) -> str:
    from dataset.ingest import ingest
    from sample_data import sample

    dataset = os.path.join(work, name)
    sample.generate(
        dataset,
        num_train=48,
        num_test=12,
        num_unlabelled=0,
        seed=5,
        **({"classes": tuple(sample.SampleClass(*c) for c in classes)} if classes else {}),
    )
    examples = dataset + "-examples"
    ingest(dataset, examples)
    return examples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cpu-demo")
    parser.add_argument("--pretrain-steps", type=int, default=800)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--interval", type=int, default=50)
    args = parser.parse_args()

    from components.trainer import experiment, training
    from components.util.eval_split import load_eval_split
    from dataset import layout
    from pipeline import report

    work = tempfile.mkdtemp(prefix="finetune-bench-")
    a, b = ingested(work, "A"), ingested(work, "B", B_CLASSES)
    pretrained = os.path.join(work, "pretrained")
    training.train(params_for(a, args.config, args.pretrain_steps), pretrained)
    evaluation = training.Evaluation(load_eval_split(b), layout.read_label_map(b), args.interval)
    thresholds = experiment.own_keys(args.config).blessing.thresholds
    rows = {}
    for name, init in (("from A's checkpoint", pretrained), ("from scratch", None)):
        record = training.train(
            params_for(b, args.config, args.steps, init_checkpoint=init, init_modules="all"),
            os.path.join(work, name.replace(" ", "-")),
            evaluation,
        )
        rows[name] = (record, report.time_to_threshold(record["accuracy_over_time"], thresholds))
    print(
        f"\nconfig {args.config}: pre-trained {args.pretrain_steps} steps on A (speaker, mug), then {args.steps} "
        f"steps on B (ball, bottle, book), evaluated every {args.interval} steps; threshold {thresholds}\n"
    )
    print("| on B | mask AP50 | mask AP | box AP50 | steps to threshold | training s to threshold |")
    print("|---|---|---|---|---|---|")
    for name, (record, (seconds, steps)) in rows.items():
        last = record["accuracy_over_time"][-1]
        print(
            f"| {name} | {last['mask_AP50']:.3f} | {last['mask_AP']:.3f} | {last['box_AP50']:.3f} | "
            f"{steps if steps is not None else 'not reached'} | "
            f"{f'{seconds:.0f}' if seconds is not None else '-'} |"
        )
    init = rows["from A's checkpoint"][0]["init"]
    print(f"\ninit: {init['restored']} variables restored, re-initialised {init['reinitialised']}")
    for name, (record, _) in rows.items():
        print(f"{name}: " + ", ".join(f"{p['step']}:{p['mask_AP50']:.2f}" for p in record["accuracy_over_time"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
