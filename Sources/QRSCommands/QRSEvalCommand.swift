import ArgumentParser
import ECGSignal
import Foundation
import WFDB

/// `pipe qrs eval RECORD...`: beat-by-beat comparison of the detector with reference annotations (bxb rules).
public struct QRSEvalCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Compare QRS detections with reference beat annotations (WFDB bxb rules).",
        discussion: """
            A detection matches a reference beat within 150 ms; only beat annotations count. The first five \
            minutes are left out, as bxb does, unless --all. Prints per-record and gross TP, FN, FP, \
            sensitivity (Se) and positive predictivity (+P). Records run in parallel.
            """
    )

    @Argument(help: "Record paths without extension (or ending in .hea).")
    public var records: [String]

    @Option(help: "Annotator of the reference beats.")
    public var reference = "atr"

    @Option(help: "Lead by name (e.g. MLII) or index. Default: MLII when present, else channel 0.")
    public var lead: String?

    @Flag(help: "Count the whole record, including the first five minutes.")
    public var all = false

    @Flag(help: "Print JSON instead of a table.")
    public var json = false

    @Option(help: "A beat must exceed this multiple of the local noise floor (detector setting; default 4).")
    public var noiseFloorFactor: Double?

    @Option(help: "Noise floor over QRS level above which a stretch is of low quality (default 0.25).")
    public var lowQualityRatio: Double?

    @Option(help: "Noise floor over QRS level above which the noise-floor test applies (default 0.4).")
    public var noiseFloorGate: Double?

    @Option(help: "Inside noise, humps above this multiple of the floor may be rescued by shape (default 1.2).")
    public var rescueFactor: Double?

    @Option(help: "Correlation with the clean beats' template that rescues a hump (default 0.6).")
    public var rescueCorrelation: Double?

    public init() {}

    public func validate() throws {
        guard !records.isEmpty else { throw ValidationError("give at least one record") }
        guard !reference.isEmpty else { throw ValidationError("--reference needs an annotator name") }
        for (name, value) in [
            ("--noise-floor-factor", noiseFloorFactor), ("--low-quality-ratio", lowQualityRatio),
            ("--noise-floor-gate", noiseFloorGate), ("--rescue-factor", rescueFactor),
            ("--rescue-correlation", rescueCorrelation),
        ] {
            if let value, !(value.isFinite && value >= 0) {
                throw ValidationError("\(name) must be a non-negative number, got \(value)")
            }
        }
    }

    public func run() throws {
        var configuration = QRSDetector.Configuration()
        if let noiseFloorFactor { configuration.noiseFloorFactor = noiseFloorFactor }
        if let lowQualityRatio { configuration.lowQualityRatio = lowQualityRatio }
        if let noiseFloorGate { configuration.noiseFloorGate = noiseFloorGate }
        if let rescueFactor { configuration.rescueFactor = rescueFactor }
        if let rescueCorrelation { configuration.rescueCorrelation = rescueCorrelation }
        let evaluation = try RecordQRSAnalysis.evaluate(
            recordPaths: records, reference: reference, lead: lead, includeAll: all, configuration: configuration)
        print(json ? QRSReport.json(evaluation) : QRSReport.table(evaluation), terminator: "")
    }
}
