"""`maskrcnn-tfx serve`: a pushed model behind a model server speaking TF Serving's REST protocol, to try the
REST API locally (docs/serving.md); the same server the serving check starts before a push."""

from __future__ import annotations

import argparse
import sys

from components.serving_check.server import DEFAULT_GRPC_PORT, DEFAULT_NAME, DEFAULT_PORT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        help="a pushed version (SERVING_DIR/<version>), the serving folder (its newest version), "
        "a Trainer model artifact or an exported SavedModel",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the REST port (default %(default)s)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=DEFAULT_GRPC_PORT,
        help="TF Serving's gRPC Predict (default %(default)s; 0: none)",
    )
    parser.add_argument("--name", default=DEFAULT_NAME, help="the model's name in the URL (default %(default)s)")


def main(args: argparse.Namespace) -> int:
    from components.serving_check import server
    from pipeline.predict import PredictError, find_saved_model

    try:
        model_dir = find_saved_model(args.model)
    except PredictError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 1
    return server.main(
        ["--model", model_dir, "--port", str(args.port), "--grpc-port", str(args.grpc_port), "--name", args.name]
    )
