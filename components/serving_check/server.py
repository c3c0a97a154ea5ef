"""A SavedModel behind KServe's Python model server, speaking TF Serving's REST predict protocol (v1).

    python -m components.serving_check.server --model VERSION_DIR [--port 8501] [--name maskrcnn]

What it does as TF Serving does (tensorflow/serving, read at its main branch of 2026-07):
- at load, replays the version's `assets.extra/tf_serving_warmup_requests` (PredictionLog records) before it
  answers (`servables/tensorflow/saved_model_warmup_util.cc`);
- `POST /v1/models/NAME:predict` takes `{"signature_name": ..., "instances": [...]}` (row format; a signature
  with one input takes the values themselves) or `{"inputs": ...}` (columnar), `{"b64": ...}` for bytes, and
  answers `{"predictions": [...]}` or `{"outputs": ...}`; a DT_STRING output whose name ends in `_bytes` is
  written as `{"b64": ...}`; a float32 is written with the fewest digits that read back as the same float32
  (`util/json_tensor.cc`); a bad request answers 400 with `{"error": ...}`.
- gRPC: `tensorflow.serving.PredictionService/Predict` (tensorflow-serving-api's protos), `PredictRequest`'s
  `model_spec.signature_name` and `inputs` in, `outputs` back.
What differs: readiness is KServe's `GET /v1/models/NAME` (`{"name": ..., "ready": true}`), where TF Serving
answers its model status; one model version (the folder given); gRPC has Predict alone; no batching.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time

import numpy as np

from components.util import serving_contract as contract

DEFAULT_PORT = 8501  # TF Serving's REST port
DEFAULT_GRPC_PORT = 8500  # and its gRPC port
DEFAULT_NAME = "maskrcnn"


def import_kserve():
    """The kserve package: it parses the process's arguments when imported, so it is shown none."""
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kserve
    finally:
        sys.argv = argv
    return kserve


def replay_warmup(model, model_dir: str) -> list[float]:
    """Every warm-up record sent to its signature, as TF Serving does at load; the seconds of each. Raises on a
    record the model cannot answer."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(model_dir, contract.WARMUP_FILE)
    seconds = []
    if not tf.io.gfile.exists(path):
        return seconds
    for number, raw in enumerate(tf.data.TFRecordDataset(path).take(contract.MAX_WARMUP_RECORDS), start=1):
        request = prediction_log_pb2.PredictionLog.FromString(raw.numpy()).predict_log.request
        signature = request.model_spec.signature_name or contract.SERVING_DEFAULT
        started = time.perf_counter()
        try:
            model.signatures[signature](**{k: tf.make_ndarray(v) for k, v in request.inputs.items()})
        except Exception as error:  # noqa: BLE001 - the record and the reason, in words
            raise RuntimeError(f"{path}: warm-up record {number} ({signature}) fails: {error}") from None
        seconds.append(time.perf_counter() - started)
    return seconds


def _as_array(value, spec) -> np.ndarray:
    import tensorflow as tf

    value = contract.unb64(value)
    return np.array(value, dtype=object) if spec.dtype == tf.string else np.array(value, spec.dtype.as_numpy_dtype)


def request_inputs(body: dict, input_specs: dict) -> tuple[dict[str, np.ndarray], bool]:
    """The signature's inputs from a REST body; whether it was in row format."""
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise ValueError('the body must hold exactly one of "instances" (row format) or "inputs" (columnar)')
    names = sorted(input_specs)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ValueError('"instances" must be a non-empty list')
        named = all(isinstance(i, dict) and set(i) != {"b64"} for i in instances)
        if not named:
            if len(names) != 1:
                raise ValueError(f"the signature takes several inputs ({', '.join(names)}): name them")
            return {names[0]: _as_array(instances, input_specs[names[0]])}, True
        return {n: _as_array([i[n] for i in instances], input_specs[n]) for n in names}, True
    inputs = body["inputs"]
    if not isinstance(inputs, dict) or set(inputs) != set(names):
        if len(names) == 1 and not isinstance(inputs, dict):
            inputs = {names[0]: inputs}
        else:
            raise ValueError(f'"inputs" must name the signature\'s inputs: {", ".join(names)}')
    return {n: _as_array(inputs[n], input_specs[n]) for n in names}, False


def _json_values(name: str, array: np.ndarray):
    if array.dtype == object or array.dtype.kind == "S":
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode("ascii")}, otypes=[object])(array).tolist()
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(array).tolist()
    if array.dtype == np.float32:  # the shortest digits that read back as the same float32
        return array.astype(str).astype(np.float64).tolist()
    return array.tolist()


def answer(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    """Outputs as TF Serving writes them: row format (one entry per batch item, an object when there are
    several outputs) or columnar."""
    values = {name: _json_values(name, array) for name, array in outputs.items()}
    if not row_format:
        return {"outputs": values}
    batch = {len(v) for v in values.values()}
    if len(batch) != 1:
        raise ValueError(f"outputs of inconsistent batch size: {sorted(batch)}")
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    return {"predictions": [{name: v[i] for name, v in values.items()} for i in range(batch.pop())]}


def grpc_server(model, port: int):
    """TF Serving's gRPC PredictionService.Predict on the model's signatures, started on `port`."""
    from concurrent import futures

    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 - the service's method name
            name = request.model_spec.signature_name or contract.SERVING_DEFAULT
            if name not in model.signatures:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no signature {name!r}")
            try:
                outputs = model.signatures[name](**{k: tf.make_ndarray(v) for k, v in request.inputs.items()})
            except (TypeError, ValueError, tf.errors.OpError) as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: {getattr(error, 'message', error)}")
            response = predict_pb2.PredictResponse(model_spec=request.model_spec)
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(), server)
    server.add_insecure_port(f"[::]:{port}")
    server.start()
    return server


def _model_class():
    kserve = import_kserve()
    from kserve.errors import InvalidInput

    class SavedModelServer(kserve.Model):
        """The SavedModel's signatures over TF Serving's REST body."""

        def __init__(self, name: str, model_dir: str):
            super().__init__(name)
            self.model_dir = model_dir
            self.timings: dict = {}

        def load(self) -> bool:
            import tensorflow as tf

            started = time.perf_counter()
            self.model = tf.saved_model.load(self.model_dir)
            self.timings["load_s"] = round(time.perf_counter() - started, 3)
            warmup = replay_warmup(self.model, self.model_dir)
            self.timings.update(
                warmup_records=len(warmup),
                warmup_s=round(sum(warmup), 3),
                warmup_first_call_s=round(warmup[0], 3) if warmup else None,
            )
            self.ready = True
            return True

        def predict(self, payload: dict, headers=None) -> dict:
            import tensorflow as tf

            signature_name = payload.get("signature_name") or contract.SERVING_DEFAULT
            if signature_name not in self.model.signatures:
                raise InvalidInput(
                    f"no signature {signature_name!r}; this model has {', '.join(sorted(self.model.signatures))}"
                )
            signature = self.model.signatures[signature_name]
            try:
                inputs, rows = request_inputs(payload, signature.structured_input_signature[1])
                outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
                return answer({k: v.numpy() for k, v in outputs.items()}, rows)
            except (ValueError, TypeError, tf.errors.OpError) as error:
                message = error.message if isinstance(error, tf.errors.OpError) else str(error)
                raise InvalidInput(f"{signature_name}: {message}") from None

    return SavedModelServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve a SavedModel over TF Serving's REST predict protocol")
    parser.add_argument("--model", required=True, help="a SavedModel folder (one version)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--grpc-port", type=int, default=0, help="also TF Serving's gRPC Predict here (0: no gRPC)")
    parser.add_argument("--name", default=DEFAULT_NAME, help="the model's name in the URL")
    parser.add_argument("--timings", help="write the load and warm-up seconds here (JSON) once loaded")
    args = parser.parse_args(argv)
    model = _model_class()(args.name, args.model)
    try:
        model.load()
    except Exception as error:  # noqa: BLE001 - a model that does not load: why, in words, and exit 1
        print(f"serve: {args.model} does not load: {error}", file=sys.stderr, flush=True)
        return 1
    if args.timings:
        with open(args.timings, "w") as f:
            json.dump(model.timings, f)
    if args.grpc_port:
        service = grpc_server(model.model, args.grpc_port)  # noqa: F841 - serves until the process ends
    print(
        f"serving {args.model} at http://localhost:{args.port}/v1/models/{args.name} (POST :predict"
        + (f"; gRPC Predict at localhost:{args.grpc_port}" if args.grpc_port else "")
        + f"; loaded in {model.timings['load_s']:.1f} s, {model.timings['warmup_records']} warm-up requests in "
        f"{model.timings['warmup_s']:.1f} s)",
        flush=True,
    )
    import_kserve().ModelServer(http_port=args.port, enable_grpc=False, workers=1).start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
