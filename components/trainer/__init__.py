"""The TFX Trainer's run_fn (trainer_module.py): Model Garden's Mask R-CNN.

In:  examples (Examples), train_args (steps), custom_config (components/trainer/settings.py: TrainingSettings).
Out: model (Model: Format-Serving/ SavedModel with assets/label_map.json, training_timing.json),
     model_run (ModelRun: checkpoints, params.yaml, TensorBoard summaries).

experiment.py builds the ExperimentConfig (named YAML, data, overrides), training.py trains and times it.
"""
