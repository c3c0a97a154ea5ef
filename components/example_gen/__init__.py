"""ImageMaskExampleGen: the pipeline's ingestion component (images + masks or COCO -> Examples)."""
