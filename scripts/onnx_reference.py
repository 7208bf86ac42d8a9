#!/usr/bin/env python3
"""Regenerates the ONNX runtime's reference fixture from PyTorch and onnxruntime.

Exports the ORIGINAL model of the design brief (Conv1d(1->32,k5,p2)-ReLU-MaxPool2-Conv1d(32->64,k5,p2)-ReLU-
MaxPool2-Linear(2944->128)-ReLU-Dropout(0.2)-Linear(128->5)) with seeded random weights through
torch.onnx.export (dynamic batch "N", opset 17, input `beats`, output `logits`), runs a few seeded beats
through onnxruntime, and writes:

  Tests/ONNXTests/Fixtures/original_torch.onnx   the exported model (~1.6 MB)
  Tests/ONNXTests/Fixtures/original_torch.json   inputs, onnxruntime's logits and PyTorch's logits

ONNXTests compare the Swift runtime against these files without Python.

Needs torch, onnx, onnxruntime and numpy, e.g. in a throw-away virtualenv:
  python3 -m venv /tmp/onnx-venv
  /tmp/onnx-venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu || \
      /tmp/onnx-venv/bin/pip install torch
  /tmp/onnx-venv/bin/pip install onnx onnxruntime numpy
  /tmp/onnx-venv/bin/python scripts/onnx_reference.py

--exporter dynamo uses torch's newer exporter instead of the TorchScript one (default: torchscript, whose
graph also exercises Shape/Gather/Unsqueeze/Concat for `x.view(x.size(0), -1)`).
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime
import torch
import torch.nn as nn

SEED = 20240601
BEATS = 8
WINDOW = 187


class OriginalCNN(nn.Module):
    """The original project's classifier, as in DESIGN.md ("Model (original)")."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 32, kernel_size=5, padding=2)
        self.conv2 = nn.Conv1d(32, 64, kernel_size=5, padding=2)
        self.pool = nn.MaxPool1d(2)
        self.fc1 = nn.Linear(64 * 46, 128)
        self.dropout = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = self.dropout(torch.relu(self.fc1(x)))
        return self.fc2(x)


def export(model, example, path, exporter):
    common = dict(input_names=["beats"], output_names=["logits"], opset_version=17)
    if exporter == "dynamo":
        torch.onnx.export(
            model, (example,), path, dynamo=True, dynamic_shapes={"x": {0: torch.export.Dim("N")}}, **common
        )
        # The dynamo exporter may keep weights in a side file (path + ".data"); embed them.
        exported = onnx.load(path)
        onnx.save(exported, path, save_as_external_data=False)
        if os.path.exists(path + ".data"):
            os.remove(path + ".data")
        return
    dynamic_axes = {"beats": {0: "N"}, "logits": {0: "N"}}
    try:
        torch.onnx.export(model, (example,), path, dynamo=False, dynamic_axes=dynamic_axes, **common)
    except TypeError:  # torch < 2.5 has no `dynamo` argument
        torch.onnx.export(model, (example,), path, dynamic_axes=dynamic_axes, **common)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    parser.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(__file__), "..", "Tests", "ONNXTests", "Fixtures"),
        help="fixture directory",
    )
    args = parser.parse_args()

    torch.manual_seed(SEED)
    model = OriginalCNN().eval()
    rng = np.random.default_rng(SEED)
    # Beat windows are min-max normalised to [0, 1] by the preprocessing stage.
    beats = rng.random((BEATS, 1, WINDOW), dtype=np.float32)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "original_torch.onnx")
    export(model, torch.zeros(2, 1, WINDOW), onnx_path, args.exporter)
    onnx.checker.check_model(onnx.load(onnx_path))

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"beats": beats})[0]
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(beats)).numpy()
    gap = float(np.max(np.abs(logits - torch_logits)))
    if gap > 1e-4:
        sys.exit(f"onnxruntime and PyTorch disagree by {gap}")

    exported = onnx.load(onnx_path)
    fixture = {
        "generator": "scripts/onnx_reference.py",
        "exporter": args.exporter,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "seed": SEED,
        "ops": [node.op_type for node in exported.graph.node],
        "input_shape": list(beats.shape),
        "beats": [float(v) for v in beats.ravel()],
        "output_shape": list(logits.shape),
        "logits": [float(v) for v in logits.ravel()],
        "torch_logits": [float(v) for v in torch_logits.ravel()],
    }
    with open(os.path.join(args.out, "original_torch.json"), "w") as handle:
        json.dump(fixture, handle, indent=1)
        handle.write("\n")
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), ops: {' '.join(fixture['ops'])}")


if __name__ == "__main__":
    main()
