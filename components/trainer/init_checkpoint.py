"""Training from a pretrained checkpoint: every variable whose key and shape fit is restored, the rest is not.

Model Garden's task restores `all` (which fails when the class count differs) or
the backbone and decoder whole. Here, for the modules asked (`backbone`,
`decoder`, or `all`), every variable of the checkpoint whose key and shape fit
the new model is restored: backbone, decoder, RPN head, the shared layers of the
box and mask heads. What does not fit stays as built and is reported: with
another class count, the class logits, the per-class box regression and the
per-class mask logits. Keys are the object paths of Model Garden's training
checkpoints (`backbone/...`, `decoder/...`, `detection_head/0/...`), which its
ImageNet backbone checkpoints share. The filtered values are written as a
checkpoint of the new model and read back with TensorFlow's own restore.

It runs where Model Garden's `initialize` runs, when the model folder has no
checkpoint of its own, so a resumed run keeps its newer weights.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile

import tensorflow as tf

from storage import fileio

MODULES = ("backbone", "decoder", "all")
NO_CHECKPOINT = "none"  # --init-checkpoint none: random weights, also where the config names a checkpoint
_VARIABLE = "/.ATTRIBUTES/VARIABLE_VALUE"
_NOT_WEIGHTS = (".OPTIMIZER_SLOT", "optimizer/", "global_step", "save_counter")


class InitError(ValueError):
    """The checkpoint cannot initialise this model; the message says why."""


@dataclasses.dataclass
class InitRecord:
    checkpoint: str
    modules: list[str]
    restored: int
    reinitialised: list[str]  # the model's variables in the modules asked that the checkpoint does not fit
    unused: list[str]  # the checkpoint's variables the model did not take

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def parse_modules(modules: str | list[str]) -> list[str]:
    names = [m.strip() for m in (modules.split(",") if isinstance(modules, str) else modules) if m.strip()]
    unknown = [m for m in names if m not in MODULES]
    if not names or unknown or ("all" in names and len(names) > 1):
        raise InitError(f"init modules {modules!s}: expected all, backbone, decoder or backbone,decoder")
    return names


def checkpoint_path(path: str) -> str:
    """A checkpoint prefix: the path itself, or a folder's latest checkpoint."""
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if not latest:
            raise InitError(f"{path}: a folder without a checkpoint (no 'checkpoint' file naming one)")
        return latest
    if not tf.io.gfile.exists(path + ".index"):
        raise InitError(f"{path}: no checkpoint there ({path}.index not found)")
    return path


def check_reachable(checkpoint: str, modules: str, config: str) -> None:
    """Fails before any step when the checkpoint the training starts from cannot be read from here: a
    checkpoint prefix (PATH.index) or a folder holding a `checkpoint` file."""
    try:
        if fileio.exists(checkpoint + ".index") or fileio.exists(fileio.join(checkpoint, "checkpoint")):
            return
        reason = "nothing there (neither a checkpoint prefix, PATH.index, nor a folder with a 'checkpoint' file)"
    except Exception as error:  # noqa: BLE001 - what the filesystem says is the reason
        detail = str(error).split("\n")[0]
        reason = (
            f"its host cannot be reached from here (no network or no DNS: {detail.split('error details: ')[-1]})"
            if "resolve host" in detail.lower() or "resolve hostname" in detail.lower()
            else detail
        )
    copy = (
        f"gsutil -m cp '{checkpoint}.*' DIR"
        if fileio.scheme(checkpoint) == "gs"
        else f"copy {checkpoint}.index and {checkpoint}.data-* to DIR"
    )
    raise InitError(
        f"the training config {config} starts from the checkpoint {checkpoint} ({modules}), which cannot be read: "
        f"{reason}. Copy it where the Trainer can read it ({copy}) and pass --init-checkpoint "
        f"DIR/{checkpoint.rstrip('/').rsplit('/', 1)[-1]}, or train from random weights with --init-checkpoint "
        f"{NO_CHECKPOINT}"
    )


def _weights(shapes: dict[str, list[int]]) -> dict[str, list[int]]:
    return {k: v for k, v in shapes.items() if k.endswith(_VARIABLE) and not any(n in k for n in _NOT_WEIGHTS)}


def _in_modules(key: str, modules: list[str]) -> bool:
    return "all" in modules or key.split("/", 1)[0] in modules


def _short(key: str) -> str:
    return key.removesuffix(_VARIABLE)


def initialize(model: tf.keras.Model, checkpoint: str, modules: str | list[str]) -> InitRecord:
    """Restores what fits of `checkpoint` into `model` (built); fails before training when nothing fits or the
    backbone (and, when asked, the decoder) does not match the config's."""
    modules = parse_modules(modules)
    source_path = checkpoint_path(checkpoint)
    source = tf.train.load_checkpoint(source_path)
    source_shapes = _weights(source.get_variable_to_shape_map())
    live = tf.train.Checkpoint(model=model, **model.checkpoint_items)
    with tempfile.TemporaryDirectory() as tmp:
        current_path = live.write(os.path.join(tmp, "current"))
        current = tf.train.load_checkpoint(current_path)
        current_shapes = current.get_variable_to_shape_map()
        wanted = {k: s for k, s in _weights(current_shapes).items() if _in_modules(k, modules)}
        fits = [k for k, s in wanted.items() if source_shapes.get(k) == s]
        record = InitRecord(
            checkpoint=source_path,
            modules=modules,
            restored=len(fits),
            reinitialised=sorted(_short(k) for k in wanted.keys() - set(fits)),
            unused=sorted(_short(k) for k in source_shapes.keys() - set(fits)),
        )
        _check(record, wanted, fits, source_shapes)
        names = sorted(current_shapes)
        values = [source.get_tensor(k) if k in fits else current.get_tensor(k) for k in names]
        filtered = os.path.join(tmp, "filtered")
        tf.raw_ops.SaveV2(prefix=filtered, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)
        live.read(filtered).assert_consumed()
    return record


def _check(record: InitRecord, wanted: dict, fits: list[str], source_shapes: dict) -> None:
    """The backbone (and a decoder that was asked for, or that the checkpoint has) must fit whole; and
    something must fit at all."""
    for module in ("backbone", "decoder"):
        in_source = [k for k in source_shapes if k.startswith(module + "/")]
        if not (module in record.modules or module == "backbone" or in_source):
            continue
        missing = sorted(k for k in wanted if k.startswith(module + "/") and k not in fits)
        if missing:
            key = missing[0]
            found = f"shape {source_shapes[key]} in the checkpoint" if key in source_shapes else "not in the checkpoint"
            theirs = (
                f"the checkpoint's {module} has {len(in_source)} variables, e.g. {_short(sorted(in_source)[0])} "
                f"{source_shapes[sorted(in_source)[0]]}"
                if in_source
                else f"the checkpoint has no {module}"
            )
            raise InitError(
                f"the {module} of {record.checkpoint} does not match the config's: {len(missing)} of "
                f"{sum(k.startswith(module + '/') for k in wanted)} {module} variables do not fit, e.g. "
                f"{_short(key)} (shape {wanted[key]} in the model, {found}); {theirs}. Use a checkpoint of the "
                f"config's {module} (see docs/training.md, fine-tuning), or other --init-modules"
            )
    if not fits:
        example = next(iter(sorted(source_shapes)), "(no variable)")
        raise InitError(
            f"{record.checkpoint} restores nothing into this model's {', '.join(record.modules)}: none of its "
            f"{len(source_shapes)} variables has a key and shape of the model (its first: {_short(example)}); it was "
            f"made for another model"
        )
