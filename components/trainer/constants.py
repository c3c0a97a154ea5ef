"""What the Trainer's run_fn writes next to its model and checkpoints, for the modules that read it."""

TIMING_FILE = "training_timing.json"  # in the Model artifact: steps, times, device, precision
FINGERPRINT_FILE = "run_fingerprint.txt"  # in the ModelRun artifact: the config a resumed run must match
# What an evaluation during training records (and `--stop-at` may name).
ACCURACY_METRICS = ("box_AP", "box_AP50", "mask_AP", "mask_AP50")
