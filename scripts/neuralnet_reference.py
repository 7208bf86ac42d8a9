#!/usr/bin/env python3
"""Writes the PyTorch reference fixture used by Tests/NeuralNetTests (Fixtures/neuralnet_reference.json).

Two tiny models that between them use every layer type (both Conv1d paths, BatchNorm1d on sequences and on
features, both poolings, global average pooling, ConcatFeatures, Dropout with p = 0). For each: the initial
state_dict, the training-mode logits, loss and parameter gradients of one batch, the running statistics after it
and the eval-mode logits that follow; then the parameters after three optimizer steps from the initial state, for
Adam with L2 weight decay and for AdamW with gradient clipping. Plus StepLR and CosineAnnealingLR learning rates.

Usage (PyTorch in a throw-away virtualenv):
    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch \
        --index-url https://download.pytorch.org/whl/cpu    # or plain `pip install torch`
    /tmp/torch-venv/bin/python scripts/neuralnet_reference.py Tests/NeuralNetTests/Fixtures/neuralnet_reference.json
"""
import json
import sys

import torch
import torch.nn as nn

FORMAT_VERSION = 1

MODELS = [
    {
        "name": "conv-bn-concat",
        "layers": [
            {"type": "conv1d", "options": {"out": 3, "kernel": 5, "padding": 2}},
            {"type": "batchnorm", "options": {}},
            {"type": "relu", "options": {}},
            {"type": "maxpool", "options": {"kernel": 2}},
            {"type": "conv1d", "options": {"out": 4, "kernel": 3, "stride": 2, "padding": 1}},
            {"type": "relu", "options": {}},
            {"type": "avgpool", "options": {"kernel": 2}},
            {"type": "flatten", "options": {}},
            {"type": "concat_features", "options": {}},
            {"type": "linear", "options": {"out": 6}},
            {"type": "batchnorm", "options": {}},
            {"type": "relu", "options": {}},
            {"type": "linear", "options": {"out": 3}},
        ],
        "input_length": 16,
        "feature_count": 2,
        "class_count": 3,
        "batch": 4,
        "class_weights": [1.0, 2.0, 0.5],
        "seed": 1,
    },
    {
        "name": "strided-global-pool",
        "layers": [
            {"type": "conv1d", "options": {"out": 4, "kernel": 3, "stride": 2, "padding": 1}},
            {"type": "relu", "options": {}},
            {"type": "conv1d", "options": {"out": 5, "kernel": 3, "padding": 1}},
            {"type": "maxpool", "options": {"kernel": 3, "stride": 2}},
            {"type": "global_avgpool", "options": {}},
            {"type": "dropout", "options": {"p": 0.0}},
            {"type": "linear", "options": {"out": 4}},
        ],
        "input_length": 20,
        "feature_count": 0,
        "class_count": 4,
        "batch": 5,
        "class_weights": None,
        "seed": 2,
    },
]

OPTIMIZER_RUNS = [
    {"kind": "adam", "learning_rate": 0.01, "weight_decay": 0.01, "clip": None, "steps": 3},
    {"kind": "adamw", "learning_rate": 0.01, "weight_decay": 0.1, "clip": 0.5, "steps": 3},
]


class Net(nn.Module):
    """A Sequential whose ConcatFeatures step appends the per-sample feature vector."""

    def __init__(self, layers, input_length, feature_count):
        super().__init__()
        self.kinds = [layer["type"] for layer in layers]
        modules = []
        channels, length, flat = 1, input_length, None
        for layer in layers:
            kind, o = layer["type"], layer["options"]
            if kind == "conv1d":
                k, s, p = int(o["kernel"]), int(o.get("stride", 1)), int(o.get("padding", 0))
                modules.append(nn.Conv1d(channels, int(o["out"]), k, stride=s, padding=p))
                channels, length = int(o["out"]), (length + 2 * p - k) // s + 1
            elif kind in ("maxpool", "avgpool"):
                k = int(o["kernel"])
                s = int(o.get("stride", k))
                modules.append(nn.MaxPool1d(k, s) if kind == "maxpool" else nn.AvgPool1d(k, s))
                length = (length - k) // s + 1
            elif kind == "global_avgpool":
                modules.append(nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten()))
                flat = channels
            elif kind == "flatten":
                modules.append(nn.Flatten())
                flat = channels * length
            elif kind == "concat_features":
                modules.append(nn.Identity())
                flat += feature_count
            elif kind == "linear":
                modules.append(nn.Linear(flat, int(o["out"])))
                flat = int(o["out"])
            elif kind == "batchnorm":
                modules.append(nn.BatchNorm1d(flat if flat is not None else channels))
            elif kind == "relu":
                modules.append(nn.ReLU())
            elif kind == "dropout":
                modules.append(nn.Dropout(o.get("p", 0.5)))
            else:
                raise ValueError(kind)
        self.layers = nn.ModuleList(modules)

    def forward(self, windows, features):
        x = windows.unsqueeze(1)
        for kind, module in zip(self.kinds, self.layers):
            x = torch.cat([x, features], dim=1) if kind == "concat_features" else module(x)
        return x


def floats(tensor):
    return [float(v) for v in tensor.detach().reshape(-1).tolist()]


def state(net, buffers=False):
    result = {}
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        is_buffer = key.endswith("running_mean") or key.endswith("running_var")
        if is_buffer == buffers or not buffers:
            result[key.removeprefix("layers.")] = floats(value)
    return result


def loss_function(spec):
    weights = spec["class_weights"]
    return nn.CrossEntropyLoss(weight=None if weights is None else torch.tensor(weights))


def reference(spec):
    torch.manual_seed(spec["seed"])
    net = Net(spec["layers"], spec["input_length"], spec["feature_count"])
    b, length, k = spec["batch"], spec["input_length"], spec["feature_count"]
    windows = torch.rand(b, length)
    features = torch.randn(b, k)
    labels = torch.randint(0, spec["class_count"], (b,))
    labels[: spec["class_count"]] = torch.arange(spec["class_count"])[:b]
    initial = {key: value.clone() for key, value in net.state_dict().items()}

    net.train()
    logits = net(windows, features)
    loss = loss_function(spec)(logits, labels)
    loss.backward()
    grads = {name.removeprefix("layers."): floats(p.grad) for name, p in net.named_parameters()}
    running = {
        key.removeprefix("layers."): floats(value)
        for key, value in net.state_dict().items()
        if key.endswith("running_mean") or key.endswith("running_var")
    }
    net.eval()
    with torch.no_grad():
        eval_logits = net(windows, features)

    runs = []
    for run in OPTIMIZER_RUNS:
        net.load_state_dict(initial)
        net.train()
        optimizer_class = torch.optim.Adam if run["kind"] == "adam" else torch.optim.AdamW
        optimizer = optimizer_class(net.parameters(), lr=run["learning_rate"], weight_decay=run["weight_decay"])
        losses = []
        for _ in range(run["steps"]):
            optimizer.zero_grad()
            step_loss = loss_function(spec)(net(windows, features), labels)
            step_loss.backward()
            if run["clip"] is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), run["clip"])
            optimizer.step()
            losses.append(step_loss.item())
        # A bias feeding straight into BatchNorm has a true gradient of zero; Adam normalises its float noise into
        # full-size steps, so those tensors cannot be compared and are left out.
        noise = {f"{i}.bias" for i, kind in enumerate(net.kinds[:-1]) if net.kinds[i + 1] == "batchnorm"}
        runs.append({**run, "losses": losses, "parameters": {
            name.removeprefix("layers."): floats(p) for name, p in net.named_parameters()
            if name.removeprefix("layers.") not in noise}})

    return {
        "name": spec["name"],
        "layers": spec["layers"],
        "input_length": length,
        "feature_count": k,
        "class_count": spec["class_count"],
        "batch": b,
        "class_weights": spec["class_weights"],
        "windows": floats(windows),
        "features": floats(features),
        "labels": [int(v) for v in labels.tolist()],
        "initial_state": {key.removeprefix("layers."): floats(v) for key, v in initial.items()
                          if not key.endswith("num_batches_tracked")},
        "logits": floats(logits),
        "loss": loss.item(),
        "gradients": grads,
        "running_stats": running,
        "eval_logits": floats(eval_logits),
        "optimizer_runs": runs,
    }


def schedules():
    result = []
    for name, make in [
        ("step", lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)),
        ("cosine", lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)),
    ]:
        optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01)
        scheduler = make(optimizer)
        rates = []
        for _ in range(7):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        result.append({"name": name, "base": 0.01, "rates": rates})
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    fixture = {
        "format_version": FORMAT_VERSION,
        "torch_version": torch.__version__,
        "models": [reference(spec) for spec in MODELS],
        "schedules": schedules(),
    }
    with open(sys.argv[1], "w") as out:
        json.dump(fixture, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
