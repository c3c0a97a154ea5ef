"""maskrcnn-tfx: components."""
