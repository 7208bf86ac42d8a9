"""Copies MIT-BIH records with one lead's polarity inverted: each sample mirrored about the lead's baseline.

    python bench/invert_lead.py SOURCE_DIR OUT_DIR CHANNEL RECORD...

Writes OUT_DIR/RECORD.hea/.dat (wfdb-python, the source's format, gains and baselines) and copies RECORD.atr.
Used by bench/leads for the "channel 0 inverted" row; a sample the mirror takes out of the format's range is
clipped, and the count is printed.
"""

import shutil
import sys

import numpy as np
import wfdb


def main() -> int:
    if len(sys.argv) < 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, out, channel, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    for name in records:
        record = wfdb.rdrecord(f"{source}/{name}", physical=False)
        if not 0 <= channel < record.n_sig:
            print(f"{name}: no channel {channel} (the record has {record.n_sig})", file=sys.stderr)
            return 2
        digital = record.d_signal.astype(np.int64)
        baseline = record.baseline[channel]
        low, high = {"212": (-2048, 2047), "16": (-32768, 32767)}.get(record.fmt[channel], (-2048, 2047))
        mirrored = 2 * baseline - digital[:, channel]
        clipped = int(np.count_nonzero((mirrored < low) | (mirrored > high)))
        digital[:, channel] = np.clip(mirrored, low, high)
        wfdb.wrsamp(
            name, fs=record.fs, units=record.units, sig_name=record.sig_name, d_signal=digital.astype(np.int32),
            fmt=record.fmt, adc_gain=record.adc_gain, baseline=record.baseline, comments=record.comments,
            write_dir=out)
        shutil.copyfile(f"{source}/{name}.atr", f"{out}/{name}.atr")
        print(f"{name}: channel {channel} ({record.sig_name[channel]}) inverted, {clipped} samples clipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
