import ArgumentParser
import Foundation

/// `pipe qrs stress CLEAN NOISE --snr DB --out DIR`: a noise stress test record, in the manner of WFDB `nst`.
public struct QRSStressCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "stress",
        abstract: "Make a noise stress test record: a clean record plus calibrated noise (as WFDB nst does).",
        discussion: """
            Signal i of CLEAN receives signal i mod n of NOISE (n noise signals), scaled so that the noise's RMS \
            amplitude is SNR dB below the QRS peak-to-peak amplitude (both measured as sigamp does: trimmed means \
            over the first 300 normal beats and the first 300 seconds). The noise is added from 5:00 on, in \
            2-minute bursts alternating with 2 clean minutes. The record is written as DIR/NAME (format 16) with \
            the clean record's reference annotations copied to DIR/NAME.ANNOTATOR.
            """
    )

    @Argument(help: "The clean record (path without extension, or ending in .hea).")
    public var clean: String

    @Argument(help: "The noise record, at the clean record's sampling frequency.")
    public var noise: String

    @Option(help: "Signal-to-noise ratio in dB.")
    public var snr: Double

    @Option(help: ArgumentHelp("Directory for the new record.", valueName: "DIR"))
    public var out: String

    @Option(help: "Name of the new record (default: CLEAN_NOISE_SNR, e.g. 118_ma_-6).")
    public var name: String?

    @Option(help: "Annotator of the clean record's reference beats (also copied).")
    public var reference = "atr"

    public init() {}

    public func validate() throws {
        guard snr.isFinite else { throw ValidationError("--snr must be a finite number of dB") }
        try DerivedRecordOptions.validate(out: out, name: name, reference: reference)
    }

    public func run() throws {
        let defaultName =
            [clean, noise].map {
                URL(fileURLWithPath: $0).lastPathComponent.replacingOccurrences(
                    of: ".hea", with: "")
            }.joined(separator: "_") + "_" + NoiseStressRecord.formatSNR(snr)
        let summary = try NoiseStressRecord.make(
            cleanPath: clean, noisePath: noise, snr: snr, reference: reference, directory: out,
            outName: name ?? defaultName)
        print(QRSReport.lines(summary), terminator: "")
    }
}
