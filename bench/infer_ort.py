"""The onnxruntime peer of bench/infer: the same .onnx model over real beat windows, at each batch size.

    python bench/infer_ort.py MODEL BEATS_BIN --count N [--batches 1 1024] [--threads 2] [--passes 3] [--out F]

MODEL is the ONNX file pipe exported (inputs `beats` [N, 1, window] and, when the model takes RR features, `rr`
[N, k]; output `logits`). BEATS_BIN is an ecg.preprocess beats.bin (the windows and RR features pipe cuts, at the
annotated R peaks); the first N of its beats are classified (repeated from the start when it holds fewer), with
the first k stored RR features as `rr`. onnxruntime runs on the CPU with intra_op_num_threads THREADS and
inter_op_num_threads 1.

Timed, per pass: the loop of InferenceSession.run calls over all N beats, batch by batch (slicing the inputs
included), after two warm-up batches; not the imports, not loading the file or the model. Prints one JSON object
(and writes it to --out): per batch size the beats/s of every pass and their median, and the predicted classes.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_torch import read_beats  # noqa: E402  (the BeatDatasetFile reader)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("beats")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1024])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()

    import onnxruntime as ort  # not timed

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    inputs = {item.name: item for item in session.get_inputs()}
    if "beats" not in inputs:
        sys.exit(f"{args.model}: no input 'beats' (inputs: {', '.join(inputs)})")
    window = inputs["beats"].shape[2]

    windows, features, _labels = read_beats(args.beats)
    if windows.shape[1] != window:
        sys.exit(f"{args.beats}: windows of {windows.shape[1]} samples, the model takes {window}")
    rows = np.resize(np.arange(len(windows)), args.count)  # the first COUNT beats, wrapping around
    feeds = {"beats": np.ascontiguousarray(windows[rows][:, None, :])}
    if "rr" in inputs:
        k = inputs["rr"].shape[1]
        if features.shape[1] < k:
            sys.exit(f"{args.beats}: {features.shape[1]} RR features per beat, the model takes {k}")
        feeds["rr"] = np.ascontiguousarray(features[rows, :k])
    unknown = set(inputs) - set(feeds)
    if unknown:
        sys.exit(f"{args.model}: inputs this peer cannot feed: {', '.join(sorted(unknown))}")
    output = session.get_outputs()[0].name

    def classify(batch):
        results = []
        for start in range(0, args.count, batch):
            results.append(session.run([output], {name: value[start:start + batch]
                                                  for name, value in feeds.items()})[0])
        return results

    report = {"onnxruntime": ort.__version__, "threads": args.threads, "beats": args.count,
              "inputs": {name: list(value.shape[1:]) for name, value in feeds.items()}, "batches": {}}
    for batch in args.batches:
        for start in (0, batch):  # warm-up: two batches
            session.run([output], {name: value[start:start + batch] for name, value in feeds.items()})
        rates = []
        for _ in range(args.passes):
            started = time.perf_counter()
            logits = classify(batch)
            rates.append(args.count / (time.perf_counter() - started))
        predicted = np.concatenate(logits).argmax(axis=1)
        report["batches"][str(batch)] = {
            "beats_per_second": statistics.median(rates), "passes": rates,
            "counts": np.bincount(predicted, minlength=5).tolist()}
        print(f"onnxruntime batch {batch}: {statistics.median(rates):.0f} beats/s", file=sys.stderr)

    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
