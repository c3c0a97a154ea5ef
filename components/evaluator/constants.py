"""What MaskEvaluator reads and writes, for the modules that use its outputs (report, predict) without
importing its executor."""
THRESHOLDS_KEY = "thresholds"
MAX_REGRESSION_KEY = "max_regression"
LATENCY_BATCH_KEY = "latency_batch"
SERVING_DIR_KEY = "serving_dir"  # the baseline: the newest version served from it
BLESS_ON_KEY = "bless_on"
# What a threshold is compared with: the metric, or the low end of its bootstrap interval.
BLESS_ON_POINT, BLESS_ON_LOWER_BOUND = "point", "lower-bound"
BLESS_ON_RULES = (BLESS_ON_POINT, BLESS_ON_LOWER_BOUND)
METRICS_FILE = "metrics.json"
SUMMARY_FILE = "summary.md"
SIGNATURE = "serving_default"  # what a TF Serving client calls: encoded image bytes
SUMMARY_KEYS = ("AP", "AP50", "AP75")  # the COCO summary figures kept for boxes and masks
# The names blessing thresholds (--threshold, a config's `blessing:`) may use.
BLESSING_METRICS = tuple(f"{kind}_{key}" for kind in ("box", "mask") for key in SUMMARY_KEYS)
