"""ImageMaskExampleGen's execution properties."""

DATASET_FORMAT_KEY = "dataset_format"
EVAL_FRACTION_KEY = "eval_fraction"
MAX_REJECT_FRACTION_KEY = "max_reject_fraction"
MIN_INSTANCE_AREA_KEY = "min_instance_area"
