"""The Beam transforms of the ingestion: the plan's inputs converted (dataset/convert.py) into the output folder
(dataset/output.py), and `run_beam` to run them with any Beam pipeline arguments.

Memory stays bounded: the pipeline's only inputs are the planned work items
(paths and annotations); each worker reads its files, converts them and streams
the examples into its TFRecord shard in the same fused stage. No step collects
examples: only small per-input outcomes are combined into the report.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import apache_beam as beam

from dataset import colours, layout, seed_convert
from dataset.convert import convert_item
from dataset.labelmap import LabelMap
from dataset.output import Report, write_report
from dataset.plan import IngestPlan
from dataset.progress import Progress
from dataset.records import Outcome, WorkItem

OUTCOMES = "outcomes"
_METRICS_NAMESPACE = "maskrcnn_tfx.ingest"


class _ConvertItems(beam.DoFn):
    def __init__(self, label_map: LabelMap, min_instance_area: int, dataset_dir: str, total: int):
        self._label_map = label_map
        self._total = total
        self._run = uuid.uuid4().hex
        self._min_instance_area = min_instance_area
        self._dataset_dir = dataset_dir
        self._examples = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "examples")
        self._rejected = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "rejected")

    def process(self, item: WorkItem, own_colours: dict):
        outcome = convert_item(item, self._label_map, self._min_instance_area, self._dataset_dir, own_colours)
        Progress.shared("[ingest] inputs converted (this worker)", self._total, self._run).add()
        if outcome.example is not None:
            self._examples.inc()
            yield beam.pvalue.TaggedOutput(outcome.split, outcome.example)
        else:
            self._rejected.inc()
        yield beam.pvalue.TaggedOutput(OUTCOMES, outcome.without_example())


class _ColourTallyFn(beam.CombineFn):
    def create_accumulator(self) -> colours.ColourTally:
        return colours.ColourTally()

    def add_input(self, tally: colours.ColourTally, found: dict) -> colours.ColourTally:
        return tally.add(found)

    def merge_accumulators(self, tallies) -> colours.ColourTally:
        merged = colours.ColourTally()
        for tally in tallies:
            merged.merge(tally)
        return merged

    def extract_output(self, tally: colours.ColourTally) -> colours.ColourTally:
        return tally


class ImagesToExamples(beam.PTransform):
    """PCollection[WorkItem] -> {'train': serialized examples, 'eval': ..., 'outcomes': PCollection[Outcome]}.

    Every item gives exactly one Outcome (an example's, or a reject's with its reason). A first pass
    tallies the colours of the colour masks, so that a mask whose colour merely shares a class's grey
    value is rejected instead of merged into that class (dataset/colours.py).
    """

    def __init__(self, label_map: LabelMap, min_instance_area: int, dataset_dir: str = "", total: int = 0):
        super().__init__()
        self._label_map = label_map
        self._convert = _ConvertItems(label_map, min_instance_area, dataset_dir, total)

    def expand(self, items):
        own_colours = (
            items
            | "MaskColours" >> beam.Map(seed_convert.mask_colours)
            | "TallyColours" >> beam.CombineGlobally(_ColourTallyFn())
            | "OwnColours" >> beam.Map(colours.own_colours, self._label_map)
        )
        results = items | "Convert" >> beam.ParDo(
            self._convert, own_colours=beam.pvalue.AsSingleton(own_colours)
        ).with_outputs(OUTCOMES, *layout.SPLITS)
        return {**{split: results[split] for split in layout.SPLITS}, OUTCOMES: results[OUTCOMES]}


class _ReportFn(beam.CombineFn):
    def create_accumulator(self) -> Report:
        return Report()

    def add_input(self, report: Report, outcome: Outcome) -> Report:
        return report.add(outcome)

    def merge_accumulators(self, reports) -> Report:
        merged = Report()
        for report in reports:
            merged.merge(report)
        return merged

    def extract_output(self, report: Report) -> Report:
        return report


class IngestDataset(beam.PTransform):
    """PBegin -> the whole output folder of dataset/layout.py for an IngestPlan.

    Split-<split>/data_tfrecord-*.gz (as TFX's ExampleGen names them), label_map.json,
    rejects.jsonl and ingest_summary.json. Returns the PCollection of the summary dict.
    """

    def __init__(self, plan: IngestPlan, output_dir: str):
        super().__init__()
        self._plan = plan
        self._output_dir = output_dir

    def expand(self, pbegin):
        plan, output_dir = self._plan, self._output_dir
        items = pbegin | "ListInputs" >> beam.Create(plan.items, reshuffle=True)
        converted = items | "ImagesToExamples" >> ImagesToExamples(
            plan.label_map, plan.options.min_instance_area, plan.dataset_dir, len(plan.items)
        )
        for split in layout.SPLITS:
            # No shuffle before writing: it would hold every encoded example in the runner's
            # memory; the trainer shuffles.
            _ = converted[split] | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                layout.record_prefix(output_dir, split), file_name_suffix=layout.RECORD_FILE_SUFFIX
            )
        return (
            converted[OUTCOMES]
            | "Report" >> beam.CombineGlobally(_ReportFn())
            | "WriteReport" >> beam.Map(write_report, plan.summary_fields(), plan.label_map.to_json(), output_dir)
        )


def run_beam(plan: IngestPlan, output_dir: str, beam_pipeline_args: Sequence[str] = ()) -> dict:
    """Runs `IngestDataset` with the given Beam pipeline arguments; returns the summary."""
    from apache_beam.options.pipeline_options import PipelineOptions

    with beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args))) as pipeline:
        _ = pipeline | "Ingest" >> IngestDataset(plan, output_dir)
    return layout.read_summary(output_dir)
