"""The sample datasets: generated photos and masks (`maskrcnn-tfx sample-data`), copies of a dataset in other
formats and with hand-made mask edges; for the tests, the benchmarks and trying the pipeline. Ingestion never
imports it."""
