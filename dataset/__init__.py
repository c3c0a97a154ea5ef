"""maskrcnn-tfx: dataset."""
