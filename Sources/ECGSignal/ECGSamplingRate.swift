/// The sampling rates at which this package's ECG processing (QRS detection, resampling, beat windows) is
/// meaningful and its memory bounded.
///
/// Below 50 Hz the detector's 5–15 Hz QRS band does not fit under the Nyquist frequency and a QRS complex
/// (80–120 ms) spans four samples or fewer; ECG is recorded at 125–2000 Hz in practice, and above 10 kHz a beat
/// window of a few hundred samples would be shorter than a QRS complex. Within the range, resampling a record to
/// a model's rate changes its length by at most 200× and the windows sized in seconds stay small, so no rate a
/// header or a model declares can ask for hundreds of gigabytes.
public enum ECGSamplingRate {
    public static let usable: ClosedRange<Double> = 50...10_000

    /// `rate` (Hz) is finite and within `usable`.
    public static func isUsable(_ rate: Double) -> Bool { rate.isFinite && usable.contains(rate) }

    /// How messages state the range.
    public static let rangeText = "50 Hz to 10 kHz"
}
