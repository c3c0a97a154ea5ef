"""What ServingCheck reads and writes, for the modules that use its outputs (report) without importing its
executor."""

LOAD_DEADLINE_KEY = "load_deadline_s"
SERVING_DIR_KEY = "serving_dir"  # a model already served there was checked before its push
DEFAULT_LOAD_DEADLINE_S = 300  # TFX InfraValidator's max_loading_time_seconds
STEADY_REQUESTS = 5  # timed requests after the first one
REPORT_FILE = "serving_check.json"  # in the InfraBlessing artifact
SERVER_LOG_FILE = "server.log"
