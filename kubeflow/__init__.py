"""maskrcnn-tfx: kubeflow."""
