"""The Trainer's run_fn (trainer_module.py) and the Model Garden experiment it builds (experiment.py)."""
