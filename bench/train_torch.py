"""The PyTorch peer of bench/train: the original project's CNN trained on pipe's own beat dataset.

    python bench/train_torch.py BEATS_BIN --batch-size 32 --epochs 3 [--threads 2] [--out result.json]

Reads data/processed/beats.bin (the BeatDatasetFile format of Sources/ECGStages/BeatDataset.swift), splits it as
ecg.train does with `split: random` (a SplitMix64 shuffle: test_fraction 0.2 with split_seed 42, then
validation_fraction 0.1 of the rest held out with seed + 1), so that both contenders train on the very same beats,
and trains DESIGN's original model (Conv1d(1→32,k5,p2)-ReLU-MaxPool2-Conv1d(32→64,k5,p2)-ReLU-MaxPool2-
Linear(2944→128)-ReLU-Dropout(0.2)-Linear(128→5), Adam lr 1e-3, unweighted cross-entropy) on the CPU.

Timed per epoch, as pipe times it: from the shuffled order to the last optimiser step, including gathering each
batch from the in-memory tensors, the forward and backward passes and the step; not the imports, not reading the
file, not the validation pass after each epoch. Prints one JSON object (and writes it to --out).
"""
import argparse
import json
import resource
import sys
import time

import numpy as np

MASK = (1 << 64) - 1


class SplitMix64:
    """pipe's split generator (Sources/ECGStages/DatasetSplit.swift), bit for bit."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        product = self.next() * bound
        if product & MASK < bound:
            threshold = ((1 << 64) - bound) % bound
            while product & MASK < threshold:
                product = self.next() * bound
        return product >> 64

    def shuffle(self, values):
        for index in range(len(values) - 1, 0, -1):
            other = self.below(index + 1)
            values[index], values[other] = values[other], values[index]


def hold_out(indices, fraction, seed):
    """DatasetSplit.random / DatasetSplit.holdOut: (kept, held out), both ascending."""
    order = list(indices)
    SplitMix64(seed).shuffle(order)
    count = min(len(order), max(0, int(round(len(order) * fraction))))
    return sorted(order[count:]), sorted(order[:count])


def read_beats(path):
    """(windows [N, window] float32, RR features [N, k] float32, labels [N] int64) from a BeatDatasetFile."""
    data = open(path, "rb").read()
    if data[:8] != b"PIPEBEAT":
        sys.exit(f"{path}: not a pipe beat dataset")
    version, count, window, features, classes, records = np.frombuffer(data, "<u4", 6, 8)
    if version not in (1, 2) or classes != 5:
        sys.exit(f"{path}: format version {version} with {classes} classes; this reads versions 1 and 2 with 5")
    offset = 44
    for _ in range(int(records) * 2):  # name and lead of each record
        offset += 1 + data[offset]
    if version == 2:  # the rhythm labels: a count, then each label's length and bytes
        rhythms = data[offset]
        offset += 1
        for _ in range(rhythms):
            offset += 1 + data[offset]
    beat = np.dtype([("record", "<u2"), ("label", "u1"), ("rhythm", "u1"), ("sample", "<i4"),
                     ("features", "<f4", (int(features),)), ("window", "<f4", (int(window),))])
    rows = np.frombuffer(data, beat, int(count), offset)
    if offset + rows.nbytes != len(data):
        sys.exit(f"{path}: {len(data) - offset - rows.nbytes} bytes left after {count} beats")
    return (np.ascontiguousarray(rows["window"]), np.ascontiguousarray(rows["features"]),
            rows["label"].astype(np.int64))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beats")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--split-seed", type=int, default=42)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out")
    args = parser.parse_args()

    import torch  # not timed
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    windows, _features, labels = read_beats(args.beats)
    train_all, _test = hold_out(range(len(labels)), args.test_fraction, args.split_seed)
    train, validation = hold_out(train_all, args.validation_fraction, args.seed + 1)
    window = windows.shape[1]
    x_train = torch.from_numpy(windows[train]).unsqueeze(1)
    y_train = torch.from_numpy(labels[train])
    x_val = torch.from_numpy(windows[validation]).unsqueeze(1)
    y_val = torch.from_numpy(labels[validation])

    flat = 64 * ((window // 2) // 2)  # 2944 at 187 samples
    model = nn.Sequential(
        nn.Conv1d(1, 32, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 64, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 5))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)

    epochs = []
    count = len(train)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(count, generator=generator)
        started = time.perf_counter()
        loss_sum, correct = 0.0, 0
        for start in range(0, count, args.batch_size):
            index = order[start:start + args.batch_size]
            x, y = x_train[index], y_train[index]
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
            correct += int((logits.argmax(1) == y).sum())
        seconds = time.perf_counter() - started
        model.eval()
        with torch.no_grad():
            val_correct = sum(int((model(x_val[i:i + 1024]).argmax(1) == y_val[i:i + 1024]).sum())
                              for i in range(0, len(validation), 1024))
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "beats_per_second": count / seconds,
                       "train_loss": loss_sum / count, "train_accuracy": correct / count,
                       "val_accuracy": val_correct / max(1, len(validation))})
        print(f"torch epoch {epoch + 1}/{args.epochs}: loss {loss_sum / count:.4f} acc {correct / count:.4f} | "
              f"val acc {epochs[-1]['val_accuracy']:.4f} | {count / seconds:.0f} beats/s", file=sys.stderr)

    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch_size": args.batch_size,
              "train_beats": count, "validation_beats": len(validation), "epochs": epochs,
              "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
