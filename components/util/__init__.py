"""What more than one component uses (as tfx/components/util): COCO scoring and its intervals, the blessing
rules, the eval split, the TF Serving folder layout, and the package's data files. No component imports another;
they import from here."""
