"""Beam's DaskRunner, made to run this project's Beam steps correctly or to refuse them.

Beam 2.77's `apache_beam.runners.dask.dask_runner.DaskRunner` turns a pipeline
into Dask bags, but, read in its source (runners/dask/dask_runner.py,
transform_evaluator.py):
1. a multi-output ParDo (`with_outputs`) gives its consumers every output: the
   bundle function drops the tag of each `TaggedOutput`, so a consumer of
   `results['train']` also gets the eval examples and the reports;
2. it computes only the last bag ("we can get away with computing just the
   last value"): a pipeline with two sinks (two TFRecord outputs and a
   report) runs only one branch;
3. a transform it does not translate becomes a silent identity (`NoOp`),
   among them `beam.io.Read` of a file source: TFX's and TFDV's reads of
   TFRecords (tfx_bsl's `ReadFromTFRecord`) read nothing;
4. it collects a bundle's outputs before `finish_bundle`, which is where Beam's
   file sinks emit the shards they wrote: `WriteToTFRecord` writes empty files;
5. a side input is computed again by every task that reads it, running its
   side effects again (a file sink's temporary folder, made once per read);
6. its GroupByKey is dask bag's `groupby` with dask's default shuffle, which is
   chosen when the graph is built, before any client exists: "disk", a partd
   folder made by one worker, appended to by the others, and deleted by the
   worker that made it when it drops its handle (partd's File.__del__). On
   more than one worker process, groups come out empty or incomplete: TFDV's
   statistics of a split had 0 examples in some runs.
This runner keeps the tags and routes each consumer to its output's, computes
every terminal bag, reads bounded sources (split on the client, read in the
workers), keeps what finish_bundle emits, computes each side input once
(in the run's one graph), groups through the scheduler (shuffle "tasks"), and
refuses a pipeline holding any other transform it cannot translate, naming it.
Beam 2.77 does not know the name `DaskRunner`; this project's commands take
`--runner=DaskRunner` for this class (dataset/dask_runner_args.py).
"""

from __future__ import annotations

import collections

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.dask import dask_runner, overrides
from apache_beam.runners.dask import transform_evaluator as ops
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.utils.windowed_value import WindowedValue

# Leaves the upstream runner leaves as they are on purpose: a reshuffle is only a hint, and Dask's group-by
# already gives (key, values) in the global window (windowing into anything else is refused).
_IDENTITIES = (overrides._Reshuffle, overrides._GroupAlsoByWindow)
_BUNDLE_BYTES = 64 << 20


class UnsupportedOnDask(RuntimeError):
    """The pipeline holds a transform the Dask runner cannot run; the message names it."""


def _apply_keeping_tags(items, invoker_args, invoker_kwargs, receivers, side_views, *side_values):
    """Upstream's apply_dofn_to_bundle, but the outputs keep their TaggedOutput wrapper, what finish_bundle
    emits is kept (upstream collects the outputs before it: a file sink's written shards are lost), and the side
    inputs come as values the graph computed once (`side_values`, one list per view)."""
    from apache_beam.runners.common import DoFnInvoker

    side_inputs = [
        SideInputMap(view_class, view_options, [ops.get_windowed_value(v, window_fn) for v in values])
        for (view_class, view_options, window_fn), values in zip(side_views, side_values, strict=True)
    ]
    invoker = DoFnInvoker.create_invoker(*invoker_args, **invoker_kwargs, side_inputs=side_inputs)
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(item)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return list(receivers.values)


class _ParDo(ops.ParDo):
    """Upstream's ParDo translation with the tags kept and the side inputs computed once (see
    _apply_keeping_tags); `side_inputs` is a list of (AsSideInput, its values as one dask Delayed)."""

    def apply(self, input_bag, side_inputs=None):
        from apache_beam.runners.common import DoFnContext, DoFnSignature, _OutputHandler

        args, kwargs = self.transform.raw_side_inputs
        main_input = next(iter(self.applied.main_inputs.values()))
        window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
        receivers = ops.OneReceiver()
        invoker_args = [
            DoFnSignature(self.transform.fn),
            _OutputHandler(
                window_fn=window_fn,
                main_receivers=receivers[None],
                tagged_receivers=receivers,
                per_element_output_counter=None,
                output_batch_converter=None,
                process_yields_batches=False,
                process_batch_yields_elements=False,
            ),
        ]
        invoker_kwargs = dict(
            context=DoFnContext(self.transform.label, state=None),
            input_args=list(args),
            input_kwargs=kwargs,
            user_state_context=None,
            bundle_finalizer_param=beam.DoFn.BundleFinalizerParam(),
        )
        side_views = [(type(si), si._view_options(), si._window_mapping_fn) for si, _ in side_inputs or []]
        # Delayed arguments of map_partitions are computed once and given to every partition's task.
        return input_bag.map(ops.get_windowed_value, window_fn).map_partitions(
            _apply_keeping_tags,
            invoker_args,
            invoker_kwargs,
            receivers,
            side_views,
            *[values for _, values in side_inputs or []],
        )


def _key(item):
    return item[0]


def _values(group):
    key, items = group
    return key, [ops.defenestrate(item[1]) for item in items]


class _GroupByKey(ops.GroupByKey):
    """Upstream's GroupByKey with the shuffle through the scheduler, whatever dask's default (see 6. above)."""

    def apply(self, input_bag, side_inputs=None):
        return input_bag.groupby(_key, shuffle="tasks").map(_values)


def _read_bundles(bundles):
    for bundle in bundles:
        tracker = bundle.source.get_range_tracker(bundle.start_position, bundle.stop_position)
        yield from bundle.source.read(tracker)


class _Read(ops.DaskBagOp):
    """A bounded source: split on the client, each split read in a worker."""

    def apply(self, input_bag, side_inputs=None):
        from dask import bag as db

        bundles = list(self.transform.source.split(desired_bundle_size=_BUNDLE_BYTES))
        return db.from_sequence(bundles, npartitions=max(1, len(bundles))).map_partitions(_read_bundles)


def _concatenate(partitions: list) -> list:
    return [item for partition in partitions for item in partition]


def _value(item):
    return item.value if isinstance(item, WindowedValue) else item


def _tagged(bag, tag: str | None):
    """The values of one output of a ParDo's bag (main output: the untagged ones), as upstream passes them on."""
    if tag is None:
        return bag.filter(lambda item: not isinstance(item, pvalue.TaggedOutput)).map(_value)
    return bag.filter(lambda item: isinstance(item, pvalue.TaggedOutput) and item.tag == tag).map(
        lambda item: _value(item.value)
    )


class _BagVisitor(PipelineVisitor):
    def __init__(self, bag_kwargs: dict):
        self.bag_kwargs = bag_kwargs
        self.bags = collections.OrderedDict()
        self.consumed: set = set()
        self._side_values: dict = {}

    def _input(self, value):
        if isinstance(value, pvalue.PBegin):
            return None
        self.consumed.add(value.producer)
        bag = self.bags[value.producer]
        return _tagged(bag, value.tag) if isinstance(value.producer.transform, beam.ParDo) else bag

    def _side_input(self, value):
        """A side input's values as one Delayed: part of the run's graph, so computed once for all the tasks
        that read it (upstream lets each task compute it again, running its side effects again: Beam's file
        sinks make a new temporary folder each time)."""
        import dask

        if value not in self._side_values:
            self._side_values[value] = dask.delayed(_concatenate)(self._input(value).to_delayed())
        return self._side_values[value]

    def visit_transform(self, node) -> None:
        op_class = {
            **ops.TRANSLATIONS,
            beam.ParDo: _ParDo,
            overrides._Read: _Read,
            overrides._GroupByKeyOnly: _GroupByKey,
        }.get(type(node.transform))
        global_windows = isinstance(node.transform, beam.WindowInto) and isinstance(
            node.transform.get_windowing(None).windowfn, beam.window.GlobalWindows
        )
        if op_class is None:
            if not (isinstance(node.transform, _IDENTITIES) or global_windows):
                raise UnsupportedOnDask(
                    f"the Dask runner cannot run '{node.full_label}' ({type(node.transform).__name__}): Beam's "
                    f"DaskRunner translates Create, ParDo, GroupByKey, Flatten and reads only; run this step on "
                    f"another runner"
                )
            op_class = ops.NoOp
        inputs = [self._input(v) for v in node.inputs]
        kwargs = {
            "input_bag": (inputs if isinstance(node.transform, overrides._Flatten) or len(inputs) != 1 else inputs[0])
            if inputs
            else None,
            "side_inputs": None,
        }
        if node.side_inputs:
            kwargs["side_inputs"] = [(si, self._side_input(si.pvalue)) for si in node.side_inputs]
        self.bags[node] = op_class(node, bag_kwargs=self.bag_kwargs).apply(**kwargs)

    def terminals(self) -> list:
        return [bag for node, bag in self.bags.items() if node not in self.consumed]


class _Result(dask_runner.DaskRunnerResult):
    def wait_until_finish(self, duration=None) -> str:
        try:
            return super().wait_until_finish(duration)
        finally:
            self.client.close()  # and the local cluster, when the client made one


class DaskRunner(dask_runner.DaskRunner):
    """Beam's DaskRunner with tagged outputs routed, every branch computed and sources read."""

    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed as ddist

        dask_options = options.view_as(dask_runner.DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = dask_runner.DaskOptions._extract_bag_kwargs(dask_options)
        pipeline.replace_all(overrides.dask_overrides())
        visitor = _BagVisitor(bag_kwargs)
        pipeline.visit(visitor)  # refuses before anything runs
        client = ddist.Client(**dask_options)
        try:
            futures = client.compute(list(dask.optimize(*visitor.terminals())))
        except BaseException:
            client.close()
            raise
        return _Result(client, futures)
