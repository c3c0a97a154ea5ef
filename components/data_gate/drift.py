"""Train/eval class drift, judged against what sampling alone produces at the splits' sizes.

TFDV's drift comparator measures the L-infinity distance between the eval and
train class distributions. On a small dataset, two random splits of the same
data differ by more than any fixed threshold: 12 eval instances of 3 classes
move a class's share by 0.3 by chance. So the threshold the gate applies is
the larger of `max_class_drift` and the distance that random splits of these
sizes exceed only 5% of the time (a seeded simulation: deterministic); on large
datasets that noise is small and `max_class_drift` rules.
"""

from __future__ import annotations

import numpy as np

from dataset import layout, records

NOISE_QUANTILE = 0.95
NOISE_SIMULATIONS = 4000


def _statistics(statistics, split: str):
    from tfx.components.statistics_gen import stats_artifact_utils

    return stats_artifact_utils.load_statistics(statistics, split).proto()


def num_examples(statistics, split: str) -> int:
    """How many examples a split has, from its TFDV statistics."""
    return int(_statistics(statistics, split).datasets[0].num_examples)


def class_counts(statistics, split: str) -> dict[str, float]:
    """Instances per class id (as a string) in a split, from its TFDV statistics (an ExampleStatistics artifact)."""
    for feature in _statistics(statistics, split).datasets[0].features:
        if feature.path.step[:] == [records.CLASS_LABEL]:
            return {b.label: b.sample_count for b in feature.string_stats.rank_histogram.buckets}
    return {}


def sampling_noise(
    train: dict[str, float],
    eval_: dict[str, float],
    quantile: float = NOISE_QUANTILE,
    simulations: int = NOISE_SIMULATIONS,
) -> float:
    """The L-infinity distance that two samples of these sizes from one class distribution (the pooled one)
    exceed with probability 1 - quantile."""
    classes = sorted(train.keys() | eval_.keys())
    pooled = np.array([train.get(c, 0) + eval_.get(c, 0) for c in classes], np.float64)
    n_train, n_eval = int(sum(train.values())), int(sum(eval_.values()))
    if not n_train or not n_eval:
        return 0.0
    rng = np.random.default_rng(0)
    a = rng.multinomial(n_train, pooled / pooled.sum(), size=simulations) / n_train
    b = rng.multinomial(n_eval, pooled / pooled.sum(), size=simulations) / n_eval
    return float(np.quantile(np.abs(a - b).max(axis=1), quantile))


def drift_check(statistics, schema, max_class_drift: float) -> tuple[list[str], str]:
    """(anomaly lines, a note on the threshold used) of TFDV's drift comparator on the class labels."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    train, eval_ = (class_counts(statistics, s) for s in (layout.TRAIN, layout.EVAL))
    noise = sampling_noise(train, eval_)
    threshold = max(max_class_drift, round(noise, 3))
    note = (
        f"class drift threshold {threshold:.3f}: random splits of {int(sum(eval_.values()))} eval and "
        f"{int(sum(train.values()))} train instances differ by more than {noise:.3f} in "
        f"{100 * (1 - NOISE_QUANTILE):.0f}% of cases, above max_class_drift {max_class_drift:.3f}"
        if noise > max_class_drift
        else f"class drift threshold {threshold:.3f} (max_class_drift)"
    )

    schema = type(schema).FromString(schema.SerializeToString())
    tfdv.get_feature(schema, records.CLASS_LABEL).drift_comparator.infinity_norm.threshold = threshold
    result = tfdv.validate_statistics(
        _statistics(statistics, layout.EVAL), schema, previous_statistics=_statistics(statistics, layout.TRAIN)
    )
    lines = [
        f"feature '{name}': eval vs train drift: {reason.description} ({note})"
        for name, info in sorted(result.anomaly_info.items())
        for reason in info.reason
        if reason.type == anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH
    ]
    return lines, note
