#!/usr/bin/env python3
"""Checks an ONNX file with onnx.checker and runs it with onnxruntime on raw float32 inputs.

usage: onnx_check.py MODEL.onnx --input NAME=FILE:D0,D1,... [--input ...] --output NAME=FILE [--output ...]

Each input FILE holds little-endian float32 values in row-major order with the given dimensions; each output
is written the same way. Prints one JSON line: the producer, the opset and the output shapes. Exits 1 when the
checker or onnxruntime rejects the model, 2 on bad arguments.

ONNXTests (OnnxRuntimeCrossCheckTests) call this with a model made by ONNXModelBuilder; it needs the onnx,
onnxruntime and numpy packages.
"""

import argparse
import json
import sys

import numpy as np
import onnx
import onnxruntime


def parse_input(text):
    name, _, rest = text.partition("=")
    path, _, dims = rest.rpartition(":")
    if not name or not path or not dims:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE:D0,D1,..., got {text!r}")
    return name, path, [int(d) for d in dims.split(",")]


def parse_output(text):
    name, _, path = text.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE, got {text!r}")
    return name, path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--input", type=parse_input, action="append", default=[])
    parser.add_argument("--output", type=parse_output, action="append", default=[])
    args = parser.parse_args()

    model = onnx.load(args.model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # the checker raises several exception types
        print(f"onnx.checker rejected {args.model}: {error}", file=sys.stderr)
        return 1

    feeds = {}
    for name, path, dims in args.input:
        values = np.fromfile(path, dtype="<f4")
        if values.size != int(np.prod(dims)):
            print(f"input {name}: {path} has {values.size} floats, dims {dims} need {int(np.prod(dims))}", file=sys.stderr)
            return 2
        feeds[name] = values.reshape(dims)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    names = [name for name, _ in args.output]
    results = session.run(names, feeds)
    shapes = {}
    for (name, path), value in zip(args.output, results):
        np.ascontiguousarray(value, dtype="<f4").tofile(path)
        shapes[name] = list(value.shape)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    print(json.dumps({"producer": model.producer_name, "opset": opset, "ir_version": model.ir_version, "outputs": shapes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
