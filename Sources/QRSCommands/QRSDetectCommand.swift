import ArgumentParser
import ECGSignal
import Foundation
import WFDB

/// `pipe qrs [detect] RECORD`: detects the QRS complexes of one record and prints or writes them.
public struct QRSDetectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Detect QRS complexes (R peaks) in a WFDB record (the default subcommand).",
        discussion: """
            Prints one line per beat (time hh:mm:ss.mmm and sample number) or JSON. With --annotate EXT the \
            beats are also written as the WFDB annotation file RECORD.EXT (every beat labelled N), next to the \
            record or in --out DIR.
            """
    )

    @Argument(help: "Record path without extension (or ending in .hea).")
    public var record: String

    @Option(help: "Lead by name (e.g. MLII) or index. Default: MLII when present, else channel 0.")
    public var lead: String?

    @Flag(help: "Print JSON instead of one line per beat.")
    public var json = false

    @Option(help: ArgumentHelp("Write the beats as annotation file RECORD.EXT.", valueName: "EXT"))
    public var annotate: String?

    @Option(help: ArgumentHelp("Directory for the annotation file (default: next to the record).", valueName: "DIR"))
    public var out: String?

    public init() {}

    public func validate() throws {
        try AnnotationOutputOptions.validate(annotate: annotate, out: out)
    }

    public func run() throws {
        let detections = try RecordQRSAnalysis.detect(recordPath: record, lead: lead)
        if let annotate {
            try RecordQRSAnalysis.writeAnnotations(detections, recordPath: record, annotator: annotate, directory: out)
        }
        print(json ? QRSReport.json(detections) : QRSReport.lines(detections), terminator: "")
    }
}

/// The checks `--annotate EXT [--out DIR]` share wherever a command writes a WFDB annotation file.
public enum AnnotationOutputOptions {
    public static func validate(annotate: String?, out: String?) throws {
        if let annotate {
            guard !annotate.isEmpty, annotate.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ValidationError("--annotate needs an annotator name of letters, digits or '_', got '\(annotate)'")
            }
        }
        if let out {
            guard annotate != nil else { throw ValidationError("--out needs --annotate") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--out: '\(out)' is not a directory")
            }
        }
    }
}
