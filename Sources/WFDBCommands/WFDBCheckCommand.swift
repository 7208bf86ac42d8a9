import ArgumentParser
import Foundation
import Parallel
import WFDB

/// `pipe wfdb check RECORD|DIR...`: decode everything and verify checksums (a database integrity check).
public struct WFDBCheckCommand: PrintingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Decode records (all signals, physical units) and their annotations; verify checksums.",
        discussion: "Prints one line per record: record, signals, samples, annotations, checksum, invalid "
            + "samples (or the error that stopped a record). Exits 1 when a checksum does not match, 2 when "
            + "a record cannot be read."
    )

    @Argument(help: "Records (path without extension or ending in .hea) or directories of records.")
    public var paths: [String]

    @Option(help: "Annotator whose file is decoded with each record ('-' for none).")
    public var annotator: String = "atr"

    @Option(help: "Records decoded at once (default: one per CPU core).")
    public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    public init() {}

    public func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one record or directory") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    public func execute(into output: inout OutputWriter) throws {
        let records = try RecordIntegrity.expand(paths)
        let results = RecordIntegrity.checkAll(records, annotator: annotator == "-" ? nil : annotator, jobs: jobs)
        var firstError: Error?
        var mismatches = 0
        for (path, result) in zip(records, results) {
            switch result {
            case .success(let report):
                output.line(report.line)
                if !report.checksumsMatch { mismatches += 1 }
            case .failure(let error):
                // Every unreadable record is listed; the first error goes on to the caller (exit 2).
                output.line("\(RecordLocation(path: path).name)\terror: \(error)")
                if firstError == nil { firstError = error }
            }
        }
        output.flush()
        if let firstError { throw firstError }
        if mismatches > 0 { throw ExitCode(1) }
    }
}

/// Decodes whole records for `check`: every signal in physical units, plus annotations.
enum RecordIntegrity {
    struct Report {
        var record: String
        var signals: Int
        var samples: Int
        var annotations: Int?
        var checksum: String
        var checksumsMatch: Bool
        var invalid: Int

        var line: String {
            "\(record)\tsignals \(signals)\tsamples \(samples)\tannotations \(annotations.map(String.init) ?? "-")"
                + "\tchecksum \(checksum)\tinvalid \(invalid)"
        }
    }

    /// Records named directly, and every `.hea` in named directories (sorted).
    static func expand(_ paths: [String]) throws -> [String] {
        var records: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                let headers = names.filter { $0.hasSuffix(".hea") }.sorted()
                if headers.isEmpty {
                    throw WFDBError.fileNotFound(file: path + "/*.hea")
                }
                records += headers.map { path + "/" + $0 }
            } else {
                records.append(path)
            }
        }
        return records
    }

    /// Checks records on `jobs` workers, each taking the next unchecked record; results in input order.
    static func checkAll(_ records: [String], annotator: String?, jobs: Int) -> [Result<Report, Error>] {
        parallelMap(count: records.count, workers: max(1, jobs)) { index in
            Result { try check(records[index], annotator: annotator) }
        }
    }

    static func check(_ path: String, annotator: String?) throws -> Report {
        let record = try WFDBRecord.open(path)
        var invalid = 0
        var physical: [Double] = []
        var signalCount = 0
        // Block by block, so memory stays small; every sample is converted to physical units.
        let statuses = try record.forEachBlock { block in
            signalCount = block.channels.count
            for channel in block.channels { invalid += channel.physical(into: &physical) }
        }
        var annotations: Int?
        if let annotator {
            let file = record.location.path(for: record.location.name + "." + annotator)
            if FileManager.default.fileExists(atPath: file) {
                annotations = try AnnotationFile.read(record: record.location, annotator: annotator).count
            }
        }
        let mismatch = statuses.contains { if case .mismatch = $0 { return true } else { return false } }
        let summary: String
        if mismatch {
            summary = "mismatch"
        } else if statuses.allSatisfy({ $0 == .ok }) {
            summary = "ok"
        } else {
            summary = statuses.first(where: { $0 != .ok })?.label ?? "ok"
        }
        return Report(
            record: record.header.name, signals: signalCount, samples: record.frameCount,
            annotations: annotations, checksum: summary, checksumsMatch: !mismatch, invalid: invalid)
    }
}
