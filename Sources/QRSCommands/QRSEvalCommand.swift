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

    public init() {}

    public func validate() throws {
        guard !records.isEmpty else { throw ValidationError("give at least one record") }
        guard !reference.isEmpty else { throw ValidationError("--reference needs an annotator name") }
    }

    public func run() throws {
        let evaluation = try RecordQRSAnalysis.evaluate(
            recordPaths: records, reference: reference, lead: lead, includeAll: all)
        print(json ? QRSReport.json(evaluation) : QRSReport.table(evaluation), terminator: "")
    }
}
