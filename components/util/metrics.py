"""The names of what the evaluator scores and how it blesses: used by the evaluator, the in-training
evaluation, the blessing rules and the command line."""

SUMMARY_KEYS = ("AP", "AP50", "AP75")  # the COCO summary figures kept for boxes and masks
# The names blessing thresholds (--threshold, a config's `blessing:`) may use.
BLESSING_METRICS = tuple(f"{kind}_{key}" for kind in ("box", "mask") for key in SUMMARY_KEYS)
# What a threshold is compared with: the metric, or the low end of its bootstrap interval.
BLESS_ON_POINT, BLESS_ON_LOWER_BOUND = "point", "lower-bound"
BLESS_ON_RULES = (BLESS_ON_POINT, BLESS_ON_LOWER_BOUND)
DEFAULT_MAX_REGRESSION = 0.0  # how far a compared metric may fall below the served model's
