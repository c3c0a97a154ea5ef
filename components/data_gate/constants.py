"""DataGate's execution property and report, for the modules that read the report without its executor."""

MAX_CLASS_DRIFT_KEY = "max_class_drift"
DEFAULT_MAX_CLASS_DRIFT = 0.25  # L-infinity between the eval and train class distributions
MIN_EVAL_IMAGES_KEY = "min_eval_images"
REPORT_FILE = "validation_report.txt"
# The report artifact is TFX's standard `File`: TFX's KFP v2 entrypoint imports a custom artifact type from
# its TYPE_NAME as a class path, which a name KFP accepts (<namespace>.<Name>) cannot be here.
REPORT_TYPE_NAME = "File"
