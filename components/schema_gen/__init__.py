"""LabelMapSchemaGen: the curated TFDV schema with the classes of the run's label map."""
