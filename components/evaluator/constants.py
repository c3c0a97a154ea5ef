"""What MaskEvaluator reads and writes, for the modules that use its outputs (report, predict) without
importing its executor."""

BLESSING_CONFIG_KEY = "blessing_config"  # components/util/blessing.py BlessingConfig, as JSON
LATENCY_BATCH_KEY = "latency_batch"
SERVING_DIR_KEY = "serving_dir"  # the baseline: the newest version served from it
DEFAULT_LATENCY_BATCH = 8  # the throughput batch
METRICS_FILE = "metrics.json"
SUMMARY_FILE = "summary.md"
