#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (WFDB header, signal and annotation parsers, params YAML, ONNX loader).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 600 seconds each, every target
#
# Targets: fuzz-wfdb-header, fuzz-wfdb-signal, fuzz-wfdb-annotation, fuzz-params, fuzz-onnx. Corpora and crash
# artifacts go to .build/fuzz/<target>/ (not committed). Prints the exec count of each run and
# exits non-zero if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz-wfdb-header fuzz-wfdb-signal fuzz-wfdb-annotation fuzz-params fuzz-onnx)
fi

# A few valid inputs to start from, and the malformed ones the tests refuse.
seed_corpus() {
    local target="$1" dir="$2" binary="$3"
    case "$target" in
    fuzz-wfdb-header)
        printf '100 2 360 650000\r\n100.dat 212 200 11 1024 995 -22131 0 MLII\r\n100.dat 212 200 11 1024 1011 20052 0 V5\r\n# 69 M\r\n' >"$dir/mitdb"
        printf 'm/3 2 250/1000(3) 300 10:00:00 01/01/2000\nlayout 0\nseg1 100\n~ 200\n' >"$dir/multi"
        printf 'r 1 1000\nr.dat 16x4:3+512 1000.5(-20)/uV 12 7 9 11 0 lead I\n' >"$dir/fields"
        # Issue 20: absurd sampling rates, refused since.
        printf 'r 1 1e12 1000\nr.dat 16 200 16 0 0 0 0 MLII\n' >"$dir/rate-huge"
        printf 'r 1 0.000001 1000\nr.dat 16x100000 200\n' >"$dir/rate-tiny"
        # Issue 17: header(5) defaults (gain 0, counter frequency 0, no sample count) and a Latin-1 byte (0xB5).
        printf 'h 1 128/0\nh.dat 16 0/\xb5V 0 0 0 0 -512 ECG1\n# \xe9\n' >"$dir/defaults-latin1"
        ;;
    fuzz-wfdb-signal)
        printf '\x07\x01\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06' >"$dir/f212"
        printf '\x09\x02\x83\x02\x05\x03\x10\x01\x11\x22\x33\x44\x55\x66\x77\x88' >"$dir/f311"
        ;;
    fuzz-wfdb-annotation)
        printf '\x12\x70\x03\xfc(N\x00\x00\x3b\x04\x00\xec\x00\x00\x01\x04\x05\xf4\x01\xf8\x00\x00' >"$dir/mixed"
        # Issue 20, item 10: cut at an even byte (no end word), and a SKIP of 2^31 - 1 samples.
        printf '\x0a\x04\x28\x04\x28\x04' >"$dir/no-end"
        printf '\x0a\x04\x00\xec\xff\x7f\xff\xff\x00\x04\x00\x00' >"$dir/huge-skip"
        ;;
    fuzz-params)
        for file in stages/*.yaml; do cp "$file" "$dir/stages-$(basename "$file")"; done
        # Issue 20: an alias bomb (refused past 1,000,000 expanded nodes), and what ValidationTests refuse.
        {
            echo 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'
            echo 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]'
            echo 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]'
        } >"$dir/aliases"
        printf 'lr: 0.001\nlr: 0.01\n' >"$dir/duplicate-key"
        printf 'a:\r  lr: 1\r  lr: 2\r' >"$dir/duplicate-key-cr"  # crashed once: CR line ends
        printf 'a:\n\tb: 1\n' >"$dir/tab"
        printf 'name: "unterminated\n' >"$dir/quote"
        printf '{epochs: [1, 2}, lr: 1e-3, on: yes, n: ~, x: .inf, k: 0x1f}' >"$dir/flow"
        printf 'model:\n  layers:\n    - {conv1d: {out: 32, kernel: 5}}\n    - relu\n' >"$dir/nested"
        ;;
    fuzz-onnx)
        PIPE_FUZZ_SEEDS="$dir" "$binary"
        head -c 4096 Tests/ONNXTests/Fixtures/original_torch.onnx >"$dir/original-torch-head"
        ;;
    esac
}

export SWIFT_BACKTRACE=enable=no
status=0
for target in "${targets[@]}"; do
    swift build -c release --product "$target" --sanitize fuzzer \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >/dev/null
    binary="$(swift build -c release --product "$target" --sanitize fuzzer \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --show-bin-path)/$target"
    work=".build/fuzz/$target"
    mkdir -p "$work/corpus" "$work/artifacts"
    seed_corpus "$target" "$work/corpus" "$binary" 2>/dev/null || true
    log="$work/last-run.log"
    if "$binary" "$work/corpus" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$log" 2>&1; then
        result="ok"
    else
        result="CRASH (see $work/artifacts/ and $log)"
        status=1
    fi
    execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
    echo "$target: ${execs:-?} execs in ${seconds}s: $result"
done
exit $status
