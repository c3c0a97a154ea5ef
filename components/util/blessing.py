"""When a model is blessed: every threshold met and no regression against the last blessed model.

`BlessingConfig` is the one statement of it: read from a training config's `blessing:` section, overridden by
the command line (`--threshold`, `--max-regression`, `--bless-on`), handed to MaskEvaluator as one parameter.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from components.util.metrics import (
    BLESS_ON_LOWER_BOUND,
    BLESS_ON_POINT,
    BLESS_ON_RULES,
    BLESSING_METRICS,
    DEFAULT_MAX_REGRESSION,
    SUMMARY_KEYS,
)

# Compared with the baseline when no threshold names a metric: COCO's headline metrics.
DEFAULT_REGRESSION_METRICS = ("box_AP", "mask_AP")


@dataclasses.dataclass(frozen=True)
class BlessingConfig:
    """thresholds: {'mask_AP50': 0.5, ...}, all to be met; max_regression: how far a compared metric may fall below
    the served model's; bless_on: 'point' (thresholds judge the metrics) or 'lower-bound' (the low ends of their
    bootstrap intervals over the eval images)."""

    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    max_regression: float = DEFAULT_MAX_REGRESSION
    bless_on: str = BLESS_ON_POINT

    def __post_init__(self):
        object.__setattr__(self, "thresholds", {k: float(v) for k, v in sorted(self.thresholds.items())})
        object.__setattr__(self, "max_regression", float(self.max_regression))
        check_thresholds(self.thresholds, "blessing.thresholds")
        if self.bless_on not in BLESS_ON_RULES:
            raise ValueError(f"blessing: bless_on {self.bless_on!r} is not one of {', '.join(BLESS_ON_RULES)}")

    def overridden(
        self,
        thresholds: dict[str, float] | None = None,
        max_regression: float | None = None,
        bless_on: str | None = None,
    ) -> BlessingConfig:
        """This config with what the command line gives (None: keep this config's)."""
        changes = {"thresholds": thresholds, "max_regression": max_regression, "bless_on": bless_on}
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BlessingConfig:
        return cls(**json.loads(text))

    @classmethod
    def from_section(cls, section: dict[str, Any] | None, where: str) -> BlessingConfig:
        """A training config's `blessing:` section."""
        section = dict(section or {})
        unknown = sorted(set(section) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"{where}: blessing has no {', '.join(unknown)}")
        try:
            return cls(**section)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


def flat_metrics(metrics: dict) -> dict[str, float]:
    """{'box_AP50': ..., 'mask_AP': ...}: the names blessing thresholds use."""
    return {f"{kind}_{key}": metrics[kind][key] for kind in ("box", "mask") for key in SUMMARY_KEYS}


def meets(values: dict[str, float], thresholds: dict[str, float]) -> bool:
    """Every threshold met by the point values (none given: not met, there is nothing to reach)."""
    return bool(thresholds) and all(values[name] >= minimum for name, minimum in thresholds.items())


def check_thresholds(thresholds: dict[str, float], where: str) -> None:
    """Refuses a threshold on a metric the evaluator does not score, before anything runs."""
    unknown = sorted(set(thresholds) - set(BLESSING_METRICS))
    if unknown:
        raise ValueError(
            f"{where}: the evaluator scores no {', '.join(unknown)}; blessing thresholds may name "
            f"{', '.join(BLESSING_METRICS)}"
        )


def judge(
    current: dict[str, float],
    thresholds: dict[str, float],
    baseline: dict[str, float] | None,
    max_regression: float,
    no_baseline_reason: str = "no blessed baseline yet",
    interval: dict | None = None,
    bless_on: str = "point",
) -> tuple[bool, list[str]]:
    """Blessed when every threshold is met and, with a baseline, no compared metric (the thresholded ones, or
    box_AP and mask_AP without thresholds) fell by more than max_regression. With bless_on 'lower-bound' a
    threshold is met by the low end of the metric's interval (none: not met). Returns the decision and reasons."""
    reasons, blessed = [], True
    for name, minimum in sorted(thresholds.items()):
        if bless_on != BLESS_ON_LOWER_BOUND:
            ok = current[name] >= minimum
            reasons.append(f"{name} {current[name]:.3f} {'>=' if ok else '<'} threshold {minimum:.3f}")
        elif interval is None:
            ok = False
            reasons.append(f"{name}: no interval (fewer than 2 eval images), so the lower-bound rule cannot be met")
        else:
            low = interval[name][0]
            ok = low >= minimum
            reasons.append(
                f"{name} lower bound {low:.3f} (of {current[name]:.3f}, {interval['confidence']:.0%} "
                f"interval) {'>=' if ok else '<'} threshold {minimum:.3f}"
            )
        blessed &= ok
    if not thresholds:
        reasons.append("no thresholds")
    if baseline is None:
        reasons.append(f"{no_baseline_reason}: judged on thresholds alone")
        return blessed, reasons
    for name in sorted(thresholds) or DEFAULT_REGRESSION_METRICS:
        ok = current[name] >= baseline[name] - max_regression
        blessed &= ok
        reasons.append(
            f"{name} {current[name]:.3f} vs baseline {baseline[name]:.3f}: "
            f"{'within' if ok else 'worse than'} the allowed regression {max_regression:.3f}"
        )
    return blessed, reasons


def interval_warnings(thresholds: dict[str, float], interval: dict | None, num_images: int) -> list[str]:
    """Where the eval split is too small for a threshold to tell: the metric's interval holds the threshold."""
    if interval is None:
        return [f"{num_images} eval image(s): no interval, the thresholds judge too few images"] if thresholds else []
    return [
        f"{name}'s {interval['confidence']:.0%} interval [{interval[name][0]:.3f}, {interval[name][1]:.3f}] "
        f"holds the threshold {minimum:.3f}: {num_images} eval images cannot tell whether the model meets it "
        f"(more eval images narrow it; --bless-on lower-bound blesses only above it)"
        for name, minimum in sorted(thresholds.items())
        if interval[name][0] < minimum <= interval[name][1]
    ]
