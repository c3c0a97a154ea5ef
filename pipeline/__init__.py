"""maskrcnn-tfx: pipeline."""
