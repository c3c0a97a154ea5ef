"""What MaskEvaluator reads and writes, for the modules that use its outputs (report, predict) without
importing its executor."""
THRESHOLDS_KEY = "thresholds"
MAX_REGRESSION_KEY = "max_regression"
LATENCY_BATCH_KEY = "latency_batch"
SERVING_DIR_KEY = "serving_dir"  # the baseline: the newest version served from it
BLESS_ON_KEY = "bless_on"
DEFAULT_LATENCY_BATCH = 8  # the throughput batch
METRICS_FILE = "metrics.json"
SUMMARY_FILE = "summary.md"
