"""When a model is blessed: every threshold met and no regression against the last blessed model."""
from __future__ import annotations

from components.evaluator.constants import BLESSING_METRICS, SUMMARY_KEYS

# Compared with the baseline when no threshold names a metric: COCO's headline metrics.
DEFAULT_REGRESSION_METRICS = ("box_AP", "mask_AP")


def flat_metrics(metrics: dict) -> dict[str, float]:
    """{'box_AP50': ..., 'mask_AP': ...}: the names blessing thresholds use."""
    return {f"{kind}_{key}": metrics[kind][key] for kind in ("box", "mask") for key in SUMMARY_KEYS}


def check_thresholds(thresholds: dict[str, float], where: str) -> None:
    """Refuses a threshold on a metric the evaluator does not score, before anything runs."""
    unknown = sorted(set(thresholds) - set(BLESSING_METRICS))
    if unknown:
        raise ValueError(f"{where}: the evaluator scores no {', '.join(unknown)}; blessing thresholds may name "
                         f"{', '.join(BLESSING_METRICS)}")


def judge(current: dict[str, float], thresholds: dict[str, float], baseline: dict[str, float] | None,
          max_regression: float, no_baseline_reason: str = "no blessed baseline yet") -> tuple[bool, list[str]]:
    """Blessed when every threshold is met and, with a baseline, no compared metric (the thresholded ones, or
    box_AP and mask_AP without thresholds) fell by more than max_regression. Returns the decision and its reasons."""
    reasons, blessed = [], True
    for name, minimum in sorted(thresholds.items()):
        ok = current[name] >= minimum
        blessed &= ok
        reasons.append(f"{name} {current[name]:.3f} {'>=' if ok else '<'} threshold {minimum:.3f}")
    if not thresholds:
        reasons.append("no thresholds")
    if baseline is None:
        reasons.append(f"{no_baseline_reason}: judged on thresholds alone")
        return blessed, reasons
    for name in sorted(thresholds) or DEFAULT_REGRESSION_METRICS:
        ok = current[name] >= baseline[name] - max_regression
        blessed &= ok
        reasons.append(f"{name} {current[name]:.3f} vs baseline {baseline[name]:.3f}: "
                       f"{'within' if ok else 'worse than'} the allowed regression {max_regression:.3f}")
    return blessed, reasons
