"""The Python side of bench/qrs: the peers' QRS detectors, bxb-style matching, and the table.

    qrs_peers.py detect TOOL MITDB RUNS OUT.json    run a peer over every record RUNS times; write times and counts
    qrs_peers.py check-matcher PIPE MITDB EVAL.json check that match() below counts pipe's own detections exactly
                                                    as `pipe qrs eval --all --json` does
    qrs_peers.py table HYPERFINE.json NAME=EVAL.json... PEER.json...
                                                    print the table: a row per hyperfine command NAME (its
                                                    Se/+P from the pipe eval JSON given for NAME), then peers

TOOL is `neurokit2` (nk.ecg_clean then nk.ecg_peaks, method "neurokit", the pair that nk.ecg_process runs) or
`xqrs` (wfdb.processing.XQRS). Every tool runs on the lead pipe picks: MLII when the record has it, else
channel 0 (records 102 and 104 have no MLII), in physical units.
"""

import json
import os
import statistics
import subprocess
import sys
import time

# The beat symbols bxb counts (ECGSignal's BeatAnnotationSymbols).
BEAT_SYMBOLS = set("N L R B A a J S V r F e j n E / f Q ?".split())
NEVER = sys.maxsize // 4


def record_names(mitdb):
    names = sorted(name[:-4] for name in os.listdir(mitdb) if name.endswith(".hea"))
    if len(names) != 48:
        sys.exit(f"qrs_peers.py: expected 48 MIT-BIH records in {mitdb}, found {len(names)}")
    return names


def lead_index(signal_names):
    return signal_names.index("MLII") if "MLII" in signal_names else 0


def reference(annotation):
    """Beat samples and ventricular flutter episodes ([ to ]), as ECGSignal's ReferenceBeats reads them."""
    beats, episodes, start = [], [], None
    for sample, symbol in zip(annotation.sample, annotation.symbol):
        sample = int(sample)
        if start is not None:
            if symbol == "]":
                episodes.append((start, max(start, sample)))
                start = None
            continue
        if symbol == "[":
            start = sample
        elif symbol in BEAT_SYMBOLS:
            beats.append(sample)
    if start is not None:
        episodes.append((start, NEVER))
    return sorted(beats), episodes


def match(beats, episodes, detections, fs, window_seconds=0.150):
    """(TP, FN, FP) by the bxb algorithm over the whole record: a port of ECGSignal's BeatMatcher with
    startTime 0 (check-matcher verifies the port against pipe)."""
    refs = beats
    dets = sorted(int(d) for d in detections)
    window = int(round(window_seconds * fs))  # fs * 0.15 is never exactly .5 here, so Python's rounding is moot
    tp = fn = fp = 0

    def in_flutter(sample):
        return any(low <= sample <= high for low, high in episodes)

    def ref_time(i):
        return refs[i] if i < len(refs) else NEVER

    def test_time(i):
        return 0 if i < 0 else (dets[i] if i < len(dets) else NEVER)

    ri = 0
    ti = -1  # no detection before the start (sample 0): bxb's empty annotation at time 0
    T, t = ref_time(ri), test_time(ti)
    if T - t < abs(T - test_time(ti + 1)) and T - t <= window:
        if ti >= 0:
            tp += 1
        ri += 1
        ti += 1
    else:
        ti += 1
        if test_time(ti) - 0 <= window and abs(T - test_time(ti + 1)) < abs(T - test_time(ti)):
            ti += 1
    T, t = ref_time(ri), test_time(ti)
    while T != NEVER or t != NEVER:
        if t < T:
            if T - t <= window and T - t < abs(T - test_time(ti + 1)):
                tp += 1
                ri += 1
                ti += 1
            else:
                if not in_flutter(t):
                    fp += 1
                ti += 1
        else:
            if t - T <= window and t - T < abs(t - ref_time(ri + 1)):
                tp += 1
                ri += 1
                ti += 1
            else:
                fn += 1
                ri += 1
        T, t = ref_time(ri), test_time(ti)
    return tp, fn, fp


def percent(part, whole):
    return 100.0 * part / whole if whole else float("nan")


def detector(tool):
    """The tool's detector as a function (signal, fs) -> R-peak sample indices, and its name with version."""
    if tool == "neurokit2":
        import neurokit2 as nk

        def detect(signal, fs):
            cleaned = nk.ecg_clean(signal, sampling_rate=fs, method="neurokit")
            _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, method="neurokit")
            return info["ECG_R_Peaks"]

        return detect, f"neurokit2 {nk.__version__} ecg_clean+ecg_peaks"
    if tool == "xqrs":
        import wfdb
        import wfdb.processing

        def detect(signal, fs):
            xqrs = wfdb.processing.XQRS(sig=signal, fs=fs)
            xqrs.detect(verbose=False)
            return xqrs.qrs_inds

        return detect, f"wfdb-python {wfdb.__version__} XQRS"
    sys.exit(f"qrs_peers.py: unknown tool {tool!r} (neurokit2 or xqrs)")


def detect_command(tool, mitdb, runs, out):
    import wfdb  # not timed

    detect, label = detector(tool)
    names = record_names(mitdb)
    references, rates = {}, {}
    for name in names:
        references[name] = reference(wfdb.rdann(os.path.join(mitdb, name), "atr"))
        rates[name] = wfdb.rdheader(os.path.join(mitdb, name)).fs
    totals, detector_totals, counts = [], [], None
    for run in range(runs):
        total_start = time.perf_counter()
        detector_seconds = 0.0
        peaks = {}
        for name in names:
            path = os.path.join(mitdb, name)
            header = wfdb.rdheader(path)
            lead = lead_index(header.sig_name)
            record = wfdb.rdrecord(path, channels=[lead], physical=True)
            signal = record.p_signal[:, 0]
            start = time.perf_counter()
            peaks[name] = detect(signal, record.fs)
            detector_seconds += time.perf_counter() - start
            peaks[name] = [int(p) for p in peaks[name]]
        totals.append(time.perf_counter() - total_start)
        detector_totals.append(detector_seconds)
        print(f"  {label}: run {run + 1}/{runs}: {totals[-1]:.1f} s", file=sys.stderr)
        counts = {}
        for name in names:
            beats, episodes = references[name]
            counts[name] = match(beats, episodes, peaks[name], rates[name])
    tp, fn, fp = (sum(c[i] for c in counts.values()) for i in range(3))
    with open(out, "w") as file:
        json.dump({"tool": label, "runs": runs, "total_seconds": totals, "detector_seconds": detector_totals,
                   "tp": tp, "fn": fn, "fp": fp, "records": counts}, file, indent=1)


def check_matcher_command(pipe, mitdb, evaluation_path):
    """Runs `pipe qrs RECORD --json` on every record and counts its detections with match(); every record must
    give the counts pipe's own matcher gave, or the peers' figures would not be comparable."""
    import wfdb

    evaluation = {row["record"]: row for row in json.load(open(evaluation_path))["records"]}
    mismatches = []
    for name in record_names(mitdb):
        path = os.path.join(mitdb, name)
        output = subprocess.run([pipe, "qrs", path, "--json"], check=True, capture_output=True, text=True).stdout
        detections = [beat["sample"] for beat in json.loads(output)["beats"]]
        beats, episodes = reference(wfdb.rdann(path, "atr"))
        ours = match(beats, episodes, detections, wfdb.rdheader(path).fs)
        theirs = (evaluation[name]["tp"], evaluation[name]["fn"], evaluation[name]["fp"])
        if ours != theirs:
            mismatches.append(f"{name}: python {ours}, pipe {theirs}")
    if mismatches:
        sys.exit("qrs_peers.py: the Python matcher disagrees with pipe (TP, FN, FP):\n  " + "\n  ".join(mismatches))
    print("  the Python bxb matcher agrees with pipe's on all 48 records", file=sys.stderr)


def table_command(hyperfine_path, evaluation_paths, peer_paths):
    """One row per hyperfine command (each with the `pipe qrs eval --all --json` output of the same command
    line, for Se/+P and the detector time), then one per peer."""
    rows = []
    for result in json.load(open(hyperfine_path))["results"]:
        evaluation = json.load(open(evaluation_paths[result["command"]]))
        gross = evaluation["gross"]
        detector_seconds = sum(row["detection_seconds"] for row in evaluation["records"])
        rows.append((f"{result['command']} (median of {len(result['times'])})", result["median"], result["min"],
                     detector_seconds, gross["se"], gross["ppv"]))
    for path in peer_paths:
        peer = json.load(open(path))
        runs = peer["runs"]
        rows.append((f"{peer['tool']} ({'median of ' + str(runs) if runs > 1 else '1 run'})",
                     statistics.median(peer["total_seconds"]), min(peer["total_seconds"]),
                     statistics.median(peer["detector_seconds"]),
                     percent(peer["tp"], peer["tp"] + peer["fn"]), percent(peer["tp"], peer["tp"] + peer["fp"])))
    reference_time = rows[0][1]
    print(f"bench/qrs: QRS detection on the 48 MIT-BIH records (MLII; V5/V2 in 102, 104), {os.cpu_count()} cores.")
    print("Se/+P: gross, every beat (no 5-minute exclusion), bxb rules, 150 ms window, against .atr.")
    print("total: median whole pass (pipe: the process, decoding, detection and matching; peers: rdrecord and")
    print("detection, in one process).")
    print("detector: time inside the detector alone, summed over records (median pass).")
    print("load average (1, 5, 15 min) at the end: %.2f %.2f %.2f" % os.getloadavg())
    width = max(len(row[0]) for row in rows)
    print(f"{'tool':<{width}} {'total s':>9} {'min s':>9} {'detector s':>11} {'Se %':>7} {'+P %':>7} "
          f"{'time vs pipe':>13}")
    for name, total, fastest, detector_seconds, se, ppv in rows:
        print(f"{name:<{width}} {total:>9.3f} {fastest:>9.3f} {detector_seconds:>11.3f} {se:>7.2f} {ppv:>7.2f} "
              f"{total / reference_time:>12.1f}x")


def main(arguments):
    if len(arguments) == 5 and arguments[0] == "detect":
        detect_command(arguments[1], arguments[2], int(arguments[3]), arguments[4])
    elif len(arguments) == 4 and arguments[0] == "check-matcher":
        check_matcher_command(arguments[1], arguments[2], arguments[3])
    elif len(arguments) >= 3 and arguments[0] == "table":
        evaluations = dict(argument.split("=", 1) for argument in arguments[2:] if "=" in argument)
        peers = [argument for argument in arguments[2:] if "=" not in argument]
        table_command(arguments[1], evaluations, peers)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
