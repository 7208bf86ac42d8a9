import Foundation
import ONNX
import Parallel

/// `pipe infer`'s work over its arguments: the records they name, the model read once, and every record
/// classified, in the order named.
public struct InferenceRun: Sendable {
    /// Record paths (without extension), in the order the arguments name them.
    public let paths: [String]
    public let classifier: BeatClassifier
    /// One outcome per path, in the same order.
    public let outcomes: [Result<RecordInferenceResult, Error>]

    /// Expands `records` (records, directories, RECORDS files), reads the model at `modelPath` and classifies
    /// every record, `jobs` at once (default: the number of cores).
    public init(records: [String], modelPath: String, options: InferenceOptions, jobs: Int?) throws {
        let paths = try RecordList.expand(records)
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw BeatClassifierError.unusableModel(
                path: modelPath, reason: "no such file (pipe repro exports it; or name one with --model)")
        }
        let classifier = try BeatClassifier(contentsOf: URL(fileURLWithPath: modelPath))
        self.paths = paths
        self.classifier = classifier
        outcomes = try RecordList.classify(
            paths, classifier: classifier, options: options,
            jobs: min(jobs ?? ProcessInfo.processInfo.activeProcessorCount, paths.count))
    }
}

/// The records a command line names, and running inference over them in parallel.
public enum RecordList {
    /// Record paths (without extension) for arguments that are records, directories or RECORDS files.
    public static func expand(_ arguments: [String]) throws -> [String] {
        var paths: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory)
            if exists && isDirectory.boolValue {
                let listing = (argument as NSString).appendingPathComponent("RECORDS")
                if FileManager.default.fileExists(atPath: listing) {
                    paths += try names(inRecordsFile: listing)
                } else {
                    let entries = try FileManager.default.contentsOfDirectory(atPath: argument)
                    let headers = entries.filter { $0.hasSuffix(".hea") }.sorted()
                    guard !headers.isEmpty else {
                        throw InferenceInputError.noRecords(path: argument, reason: "no RECORDS file and no .hea files")
                    }
                    paths += headers.map { (argument as NSString).appendingPathComponent(String($0.dropLast(4))) }
                }
            } else if exists && !argument.hasSuffix(".hea")
                && !FileManager.default.fileExists(atPath: argument + ".hea")
            {
                paths += try names(inRecordsFile: argument)
            } else {
                paths.append(argument.hasSuffix(".hea") ? String(argument.dropLast(4)) : argument)
            }
        }
        return paths
    }

    /// The records a RECORDS file lists (one name per line, relative to the file's directory).
    public static func names(inRecordsFile path: String) throws -> [String] {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8), !decoded.contains("\0") else {
                throw InferenceInputError.noRecords(path: path, reason: "not a text RECORDS file (nor a .hea record)")
            }
            text = decoded
        } catch let error as InferenceInputError {
            throw error
        } catch {
            throw InferenceInputError.noRecords(path: path, reason: error.localizedDescription)
        }
        let directory = (path as NSString).deletingLastPathComponent
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !names.isEmpty else { throw InferenceInputError.noRecords(path: path, reason: "it lists no records") }
        return names.map { directory.isEmpty ? $0 : (directory as NSString).appendingPathComponent($0) }
    }

    /// Runs every record on `jobs` workers; results keep the input order. Every runtime keeps to one thread:
    /// several records share the cores one record per worker, and a single record shares them out by tiles of
    /// beats, one runtime per core (splitting a small model's kernels between threads costs more than it saves).
    public static func classify(
        _ paths: [String], classifier: BeatClassifier, options: InferenceOptions, jobs: Int
    ) throws -> [Result<RecordInferenceResult, Error>] {
        let workers = max(1, jobs)
        let lanes = workers == 1 ? ONNXRuntime.threadCount : 1
        ONNXRuntime.setThreadCount(1)
        let runtimes = (0..<workers).map { _ in (0..<lanes).map { _ in classifier.makeRuntime() } }
        return parallelMap(count: paths.count, workerStates: runtimes) { runtimes, index in
            Result {
                try RecordInference.run(
                    recordPath: paths[index], classifier: classifier, runtimes: runtimes, options: options)
            }
        }
    }
}

/// Errors of the records a command line names.
public enum InferenceInputError: Error, CustomStringConvertible {
    case noRecords(path: String, reason: String)

    public var description: String {
        switch self {
        case .noRecords(let path, let reason): return "\(path): \(reason)"
        }
    }
}
