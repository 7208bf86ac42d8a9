"""The Python side of bench/qrs: the peers' QRS detectors, bxb-style matching, and the table.

    qrs_peers.py detect TOOL MITDB RUNS OUT.json    run a peer over every record RUNS times; write times and counts
    qrs_peers.py check-matcher PIPE MITDB EVAL.json check that match() below counts pipe's own detections exactly
                                                    as `pipe qrs eval --all --json` does
    qrs_peers.py detect-noise TOOL DIR START OUT.json
                                                    run a peer once over every record in DIR; count from START s
    qrs_peers.py check-matcher-noise PIPE DIR START EVAL.json
                                                    check-matcher over the records in DIR, counting from START s
    qrs_peers.py noise-table EVAL.json PEER.json...  print the noise stress table (records CLEAN_NOISE_SNR)
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


def record_names(mitdb, expected=48):
    """The records of a directory; exactly `expected` of them unless it is None."""
    names = sorted(name[:-4] for name in os.listdir(mitdb) if name.endswith(".hea"))
    if expected is not None and len(names) != expected:
        sys.exit(f"qrs_peers.py: expected {expected} records in {mitdb}, found {len(names)}")
    if not names:
        sys.exit(f"qrs_peers.py: no records in {mitdb}")
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


def match(beats, episodes, detections, fs, window_seconds=0.150, start_seconds=0.0):
    """(TP, FN, FP) by the bxb algorithm from start_seconds on (0: the whole record): a port of ECGSignal's
    BeatMatcher (check-matcher verifies the port against pipe)."""
    refs = beats
    dets = sorted(int(d) for d in detections)
    window = int(round(window_seconds * fs))  # fs * 0.15 is never exactly .5 here, so Python's rounding is moot
    start = int(round(start_seconds * fs))
    tp = fn = fp = 0

    def in_flutter(sample):
        return any(low <= sample <= high for low, high in episodes)

    def ref_time(i):
        return refs[i] if i < len(refs) else NEVER

    def test_time(i):
        return 0 if i < 0 else (dets[i] if i < len(dets) else NEVER)

    ri = next((i for i, r in enumerate(refs) if r >= start), len(refs))
    # the last detection before the start; -1 when none: bxb's empty annotation at time 0
    ti = max((i for i, d in enumerate(dets) if d < start), default=-1)
    T, t = ref_time(ri), test_time(ti)
    if T - t < abs(T - test_time(ti + 1)) and T - t <= window:
        if ti >= 0:
            tp += 1
        ri += 1
        ti += 1
    else:
        ti += 1
        if test_time(ti) - start <= window and abs(T - test_time(ti + 1)) < abs(T - test_time(ti)):
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


def detect_command(tool, mitdb, runs, out, expected=48, start_seconds=0.0):
    import wfdb  # not timed

    detect, label = detector(tool)
    names = record_names(mitdb, expected)
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
            counts[name] = match(beats, episodes, peaks[name], rates[name], start_seconds=start_seconds)
    tp, fn, fp = (sum(c[i] for c in counts.values()) for i in range(3))
    with open(out, "w") as file:
        json.dump({"tool": label, "runs": runs, "total_seconds": totals, "detector_seconds": detector_totals,
                   "tp": tp, "fn": fn, "fp": fp, "records": counts}, file, indent=1)


def check_matcher_command(pipe, mitdb, evaluation_path, expected=48, start_seconds=0.0):
    """Runs `pipe qrs RECORD --json` on every record and counts its detections with match(); every record must
    give the counts pipe's own matcher gave, or the peers' figures would not be comparable."""
    import wfdb

    evaluation = {row["record"]: row for row in json.load(open(evaluation_path))["records"]}
    mismatches = []
    names = record_names(mitdb, expected)
    for name in names:
        path = os.path.join(mitdb, name)
        output = subprocess.run([pipe, "qrs", path, "--json"], check=True, capture_output=True, text=True).stdout
        detections = [beat["sample"] for beat in json.loads(output)["beats"]]
        beats, episodes = reference(wfdb.rdann(path, "atr"))
        ours = match(beats, episodes, detections, wfdb.rdheader(path).fs, start_seconds=start_seconds)
        theirs = (evaluation[name]["tp"], evaluation[name]["fn"], evaluation[name]["fp"])
        if ours != theirs:
            mismatches.append(f"{name}: python {ours}, pipe {theirs}")
    if mismatches:
        sys.exit("qrs_peers.py: the Python matcher disagrees with pipe (TP, FN, FP):\n  " + "\n  ".join(mismatches))
    print(f"  the Python bxb matcher agrees with pipe's on all {len(names)} records", file=sys.stderr)


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


def noise_table_command(evaluation_path, peer_paths):
    """The noise stress table: per record, noise and SNR, each detector's Se and +P (bxb, first 5 minutes left
    out), then the gross figures per SNR and over every SNR. Record names are CLEAN_NOISE_SNR."""
    evaluation = json.load(open(evaluation_path))
    tools = [("pipe", {row["record"]: (row["tp"], row["fn"], row["fp"]) for row in evaluation["records"]})]
    for path in peer_paths:
        peer = json.load(open(path))
        short = "XQRS" if peer["tool"].endswith("XQRS") else peer["tool"].split(" ")[0]
        tools.append((short, {name: tuple(c) for name, c in peer["records"].items()}))
    keys = sorted({tuple(name.split("_")) for name in tools[0][1]}, key=lambda k: (k[0], k[1], -float(k[2])))

    def cells(counts):
        tp, fn, fp = counts
        return f"{percent(tp, tp + fn):>7.2f} {percent(tp, tp + fp):>7.2f}"

    def total(table, names):
        return tuple(sum(table[name][i] for name in names) for i in range(3))

    print("bench/qrs --noise: MIT-BIH noise stress test (nst protocol: noise from 5:00, 2-minute bursts every")
    print("4 minutes; SNR over the QRS peak-to-peak amplitude). Se/+P: bxb rules, 150 ms window, first 5 minutes")
    print("left out, against .atr. Noise: nstdb bw (baseline wander), ma (muscle artifact).")
    print("load average (1, 5, 15 min) at the end: %.2f %.2f %.2f" % os.getloadavg())
    header = f"{'record':<7} {'noise':<5} {'SNR':>4} " + " ".join(f"{name + ' Se':>7} {'+P':>7}" for name, _ in tools)
    print(header)
    for key in keys:
        name = "_".join(key)
        print(f"{key[0]:<7} {key[1]:<5} {key[2]:>4} " + " ".join(cells(table[name]) for _, table in tools))
    print("gross per SNR (both records, both noises)")
    for snr in sorted({k[2] for k in keys}, key=lambda v: -float(v)):
        names = ["_".join(k) for k in keys if k[2] == snr]
        print(f"{'all':<7} {'all':<5} {snr:>4} " + " ".join(cells(total(table, names)) for _, table in tools))
    names = ["_".join(k) for k in keys]
    print(f"{'gross':<7} {'all':<5} {'all':>4} " + " ".join(cells(total(table, names)) for _, table in tools))
    # Which targets hold: pipe at least as high as every peer at every SNR, and gross +P >= 90 %.
    verdicts = []
    for snr in sorted({k[2] for k in keys}, key=lambda v: -float(v)):
        snr_names = ["_".join(k) for k in keys if k[2] == snr]
        ours = total(tools[0][1], snr_names)
        for tool, table in tools[1:]:
            theirs = total(table, snr_names)
            for measure, index in (("Se", 1), ("+P", 2)):
                mine = percent(ours[0], ours[0] + ours[index])
                other = percent(theirs[0], theirs[0] + theirs[index])
                if mine < other:
                    verdicts.append(f"SNR {snr}: pipe {measure} {mine:.2f} < {tool} {other:.2f}")
    gross = total(tools[0][1], names)
    if percent(gross[0], gross[0] + gross[2]) < 90:
        verdicts.append(f"pipe gross +P {percent(gross[0], gross[0] + gross[2]):.2f} < 90")
    print("targets: " + ("met" if not verdicts else "NOT met: " + "; ".join(verdicts)))


def main(arguments):
    if len(arguments) == 5 and arguments[0] == "detect":
        detect_command(arguments[1], arguments[2], int(arguments[3]), arguments[4])
    elif len(arguments) == 4 and arguments[0] == "check-matcher":
        check_matcher_command(arguments[1], arguments[2], arguments[3])
    elif len(arguments) == 5 and arguments[0] == "detect-noise":
        detect_command(arguments[1], arguments[2], 1, arguments[4], expected=None, start_seconds=float(arguments[3]))
    elif len(arguments) == 5 and arguments[0] == "check-matcher-noise":
        check_matcher_command(arguments[1], arguments[2], arguments[4], expected=None,
                              start_seconds=float(arguments[3]))
    elif len(arguments) >= 2 and arguments[0] == "noise-table":
        noise_table_command(arguments[1], arguments[2:])
    elif len(arguments) >= 3 and arguments[0] == "table":
        evaluations = dict(argument.split("=", 1) for argument in arguments[2:] if "=" in argument)
        peers = [argument for argument in arguments[2:] if "=" not in argument]
        table_command(arguments[1], evaluations, peers)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
