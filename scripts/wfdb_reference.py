#!/usr/bin/env python3
"""Writes the WFDB reference fixture used by Tests/WFDBTests (records 100, 208, 232 of MIT-BIH).

For each record: the first and last 20 digital samples of each channel, annotation counts per
symbol and the first 20 annotations, all as read by wfdb-python (rdrecord + rdann).

Usage (wfdb-python in a throw-away virtualenv):
    python3 -m venv /tmp/venv-wfdb && /tmp/venv-wfdb/bin/pip install wfdb
    /tmp/venv-wfdb/bin/python scripts/wfdb_reference.py ../shared/data/mitdb \
        Tests/WFDBTests/Fixtures/mitdb_reference.json
"""
import json
import os
import sys
from collections import Counter

import wfdb

RECORDS = ["100", "208", "232"]


def reference(directory, name):
    path = os.path.join(directory, name)
    record = wfdb.rdrecord(path, physical=False)
    annotation = wfdb.rdann(path, "atr")
    digital = record.d_signal
    channels = range(digital.shape[1])
    first = []
    for i in range(min(20, len(annotation.sample))):
        first.append({
            "sample": int(annotation.sample[i]),
            "symbol": annotation.symbol[i],
            "subtype": int(annotation.subtype[i]),
            "chan": int(annotation.chan[i]),
            "num": int(annotation.num[i]),
            "aux": annotation.aux_note[i],
        })
    return {
        "signals": list(record.sig_name),
        "samples": int(record.sig_len),
        "first20": [[int(v) for v in digital[:20, c]] for c in channels],
        "last20": [[int(v) for v in digital[-20:, c]] for c in channels],
        "annotationCount": len(annotation.sample),
        "symbolCounts": dict(sorted(Counter(annotation.symbol).items())),
        "firstAnnotations": first,
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    directory, output = sys.argv[1], sys.argv[2]
    fixture = {
        "generator": "scripts/wfdb_reference.py (wfdb-python %s)" % wfdb.__version__,
        "records": {name: reference(directory, name) for name in RECORDS},
    }
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w") as handle:
        json.dump(fixture, handle, indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
