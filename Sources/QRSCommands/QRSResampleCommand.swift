import ArgumentParser
import Foundation

/// `pipe qrs resample RECORD --rate HZ --out DIR`: the record as a recorder of another rate would have given it.
public struct QRSResampleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "resample",
        abstract: "Write a record at another sampling rate (pipe's resampler), its annotations moved along.",
        discussion: """
            Every signal goes through pipe's band-limited resampler (a Kaiser-windowed sinc whose cut-off sits just \
            under the lower Nyquist frequency: going down removes what the new rate cannot hold) and is written as \
            DIR/NAME (format 16, the source's gains); the reference annotations are moved to the new rate in \
            DIR/NAME.ANNOTATOR. For testing the detector and the classifier on other recorders' rates.
            """
    )

    @Argument(help: "The record (path without extension, or ending in .hea).")
    public var record: String

    @Option(help: "The new sampling rate, Hz.")
    public var rate: Double

    @Option(help: ArgumentHelp("Directory for the new record.", valueName: "DIR"))
    public var out: String

    @Option(help: "Name of the new record (default: the record's own).")
    public var name: String?

    @Option(help: "Annotator of the reference annotations to move (skipped when the record has none).")
    public var reference = "atr"

    public init() {}

    public func validate() throws {
        guard rate.isFinite, rate > 0 else { throw ValidationError("--rate must be a positive number of Hz") }
        try DerivedRecordOptions.validate(out: out, name: name, reference: reference)
    }

    public func run() throws {
        let outName = name ?? URL(fileURLWithPath: record).lastPathComponent.replacingOccurrences(of: ".hea", with: "")
        let frames = try ResampledRecord.make(
            sourcePath: record, rate: rate, reference: reference, directory: out, outName: outName)
        print("\(out)/\(outName): \(frames) frames at \(String(format: "%g", rate)) Hz")
    }
}

/// The options of a command that writes a new record derived from another: `--out`, `--name`, `--reference`.
enum DerivedRecordOptions {
    static func validate(out: String, name: String?, reference: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--out: '\(out)' is not a directory")
        }
        if let name {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "_-".contains($0) }) else {
                throw ValidationError("--name needs letters, digits, '_' or '-', got '\(name)'")
            }
        }
        guard !reference.isEmpty else { throw ValidationError("--reference needs an annotator name") }
    }
}
