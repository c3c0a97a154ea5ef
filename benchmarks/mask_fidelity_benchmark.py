"""How faithfully ingestion reads hand-made masks: instance counts and mask IoU against the clean masks.

    scripts/container python benchmarks/mask_fidelity_benchmark.py [--train 48] [--test 12]

Generates the sample dataset (sample_data/sample.py, colour masks), ingests it as it is and as copies whose
masks were made soft (blurred, resized, antialiased: sample_data/mask_variants.py), in colour and in grayscale,
and saved as JPEG at several qualities; prints per copy: examples, instances, rejects, pixels reassigned
(dataset/mask_values.py) and the mean and lowest IoU of each clean instance with its counterpart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=48)
    parser.add_argument("--test", type=int, default=12)
    parser.add_argument("--qualities", default="50,75,95")
    args = parser.parse_args(argv)

    import numpy as np

    from dataset import layout
    from dataset.ingest import default_beam_args, ingest
    from dataset.plan import IngestOptions
    from dataset.records import IngestError
    from sample_data import mask_variants, sample

    work = Path(tempfile.mkdtemp(prefix="mask-fidelity-"))
    clean = work / "clean"
    sample.generate(clean, num_train=args.train, num_test=args.test, num_unlabelled=0)
    variants = {"clean (colour PNG)": clean}
    for name, style in mask_variants.STYLES.items():
        variants[f"{name} (colour PNG)"] = mask_variants.copy_with_masks(clean, work / f"{name}-colour", style)
        variants[f"{name} (grey PNG)"] = mask_variants.copy_with_masks(
            clean, work / f"{name}-grey", lambda m, s=style: s(mask_variants.grayscale(m))
        )
    for quality in (int(q) for q in args.qualities.split(",")):
        variants[f"JPEG q{quality} (colour)"] = mask_variants.copy_with_masks(
            clean, work / f"jpeg{quality}", jpeg_quality=quality
        )
    variants["blurred + JPEG q75"] = mask_variants.copy_with_masks(
        clean, work / "blurred-jpeg75", mask_variants.blurred, jpeg_quality=75
    )

    options = IngestOptions(max_reject_fraction=1.0)
    reference = None
    print(
        f"{'masks':<24} {'examples':>8} {'instances':>9} {'rejected':>8} {'px reassigned':>13} "
        f"{'mean IoU':>8} {'min IoU':>8}"
    )
    for name, folder in variants.items():
        output = str(work / "out" / Path(folder).name)
        try:
            summary = ingest(str(folder), output, options, default_beam_args(1))
        except IngestError:  # every mask rejected: the summary says why
            summary = layout.read_summary(output)
        found = mask_variants.ingested_instances(output)
        if reference is None:
            reference = found
        ious = [
            iou
            for file, instances in reference.items()
            for iou in mask_variants.instance_ious(instances, found.get(file, []))
        ]
        print(
            f"{name:<24} {sum(summary['num_examples'].values()):8d} {sum(summary['num_instances'].values()):9d} "
            f"{summary['num_rejected']:8d} {summary['pixels_reassigned']:13d} {np.mean(ious):8.4f} "
            f"{np.min(ious):8.4f}"
        )
        for reject in layout.read_rejects(output)[:3]:
            print(f"    {Path(reject['file']).name}: {reject['reason'][:160]}")
    print(f"(work folder {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
