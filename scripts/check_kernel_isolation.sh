#!/usr/bin/env bash
# scripts/check_kernel_isolation.sh [BINARY]: checks a release build of pipe for the two ways the AVX-512 kernels
# can go wrong, from its disassembly (objdump):
#   1. an AVX-512 instruction (a ZMM register, an opmask register, YMM/XMM 16-31, an embedded broadcast) in a function
#      that is not one of VectorKernels' AVX512 specializations: the linker folded a shared body, and that code
#      would stop an AVX2-only CPU with SIGILL;
#   2. a hot VectorKernels loop with no AVX512 specialization that uses ZMM registers: it runs the baseline code on
#      the AVX-512 path (a closure inside a kernel body that does not use the InstructionSet is not specialized).
# BINARY defaults to .build/release/pipe. Exit 0 when both hold, 1 otherwise, 2 on bad usage.
set -euo pipefail
binary="${1:-$(dirname "$0")/../.build/release/pipe}"
[ -x "$binary" ] || { echo "check_kernel_isolation: no executable '$binary' (build with swift build -c release)" >&2; exit 2; }
command -v objdump >/dev/null || { echo "check_kernel_isolation needs objdump (binutils)" >&2; exit 2; }
listing="$(mktemp)"
trap 'rm -f "$listing"' EXIT
# Per function: its mangled name and whether it uses AVX-512-only registers or broadcasts.
objdump -d --no-show-raw-insn "$binary" | awk '
    /^[0-9a-f]+ <.*>:$/ { name = substr($2, 2, length($2) - 3); next }
    /%zmm|%k[0-7][,)]|%k[0-7]$|%[xy]mm(1[6-9]|2[0-9]|3[01])|\{1to[0-9]+\}/ { if (!(name in seen)) { seen[name] = 1; print name } }
' >"$listing"
status=0
# AVX512 specializations carry the marker type in their mangled names (VectorKernelsAVX512's `AVX512`).
strays="$(grep -v 'AVX512' "$listing" | grep -v -E '^(__|_?_?mem|str|wcs|wmem|_dl_|__libc|__nss)' || true)"
if [ -n "$strays" ]; then
    echo "check_kernel_isolation: AVX-512 instructions outside the AVX512 specializations:" >&2
    echo "$strays" | sed 's/^/  /' >&2
    status=1
fi
for loop in convolveRowsBody addScalarBody rowMeansBody; do
    if ! grep -q "VectorKernels[0-9]*${loop}.*AVX512" "$listing"; then
        echo "check_kernel_isolation: no AVX512 specialization of $loop uses ZMM registers" >&2
        status=1
    fi
done
[ "$status" = 0 ] && echo "check_kernel_isolation: $(wc -l <"$listing") functions use AVX-512, all of them AVX512 specializations"
exit "$status"
