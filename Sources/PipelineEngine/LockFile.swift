import ContentStore
import Foundation
import Yams

/// One output as the lock records it.
public struct LockedOutput: Equatable, Sendable {
    public var path: String
    public var digest: Digest
    public var isDirectory: Bool
    public var size: Int64
    public var fileCount: Int
}

/// What a stage was built from and what it produced, the last time it succeeded.
public struct LockEntry: Equatable, Sendable {
    public var signature: Digest
    /// `cmd: …` or `uses: NAME@VERSION`.
    public var kind: String
    /// Dependency path → digest.
    public var deps: [String: Digest]
    /// Params file → key → canonical JSON value.
    public var params: [String: [String: String]]
    public var outputs: [LockedOutput]
}

/// `pipeline.lock`: per stage, the hashes of what went in and came out. YAML with a schema version, keys in
/// a fixed order, rewritten atomically, so the file is committed and diffed like `dvc.lock`.
public struct LockFile: Equatable, Sendable {
    public static let schemaVersion = 1
    public var stages: [String: LockEntry] = [:]

    public init(stages: [String: LockEntry] = [:]) { self.stages = stages }

    /// Reads the lock; a missing file is an empty lock. `display` names the file in errors.
    public static func load(_ url: URL, display: String) throws -> LockFile {
        guard FileStat.at(url.path) != nil else { return LockFile() }
        return try parse(display: display) { try YAMLDocument.load(url, display: display) }
    }

    /// Reads a lock from bytes (an older version of the file, read from git history).
    public static func parse(_ data: Data, display: String) throws -> LockFile {
        guard let text = String(data: data, encoding: .utf8) else {
            throw PipelineError.malformedLock(path: display, problem: "not UTF-8 text")
        }
        return try parse(display: display) { try YAMLDocument.compose(text, file: display) }
    }

    /// Parses the YAML `compose` reads; its YAML errors become `malformedLock` naming the file.
    private static func parse(display: String, _ compose: () throws -> Node?) throws -> LockFile {
        let root: Node?
        do {
            root = try compose()
        } catch let error as PipelineError {
            throw PipelineError.malformedLock(path: display, problem: error.description)
        }
        return try parse(root, display: display)
    }

    private static func parse(_ root: Node?, display: String) throws -> LockFile {
        guard let root, case .mapping(let top) = root else {
            throw PipelineError.malformedLock(path: display, problem: "expected a mapping with 'schema' and 'stages'")
        }
        guard let schema = top["schema"].flatMap(YAMLScalar.int) else {
            throw PipelineError.malformedLock(path: display, problem: "missing 'schema'")
        }
        guard schema <= schemaVersion else {
            throw PipelineError.newerLock(path: display, schema: schema, supported: schemaVersion)
        }
        var lock = LockFile()
        guard let stagesNode = top["stages"] else { return lock }
        guard case .mapping(let stages) = stagesNode else {
            throw PipelineError.malformedLock(path: display, problem: "'stages' is not a mapping")
        }
        for (nameNode, entryNode) in stages {
            guard let name = nameNode.string else { continue }
            func bad(_ problem: String) -> PipelineError {
                .malformedLock(
                    path: display, problem: "stage '\(name)' (line \(entryNode.mark?.line ?? 0)): \(problem)")
            }
            guard let signature = entryNode["signature"]?.string.flatMap(Digest.init(hex:)) else {
                throw bad("bad signature")
            }
            guard let kind = entryNode["kind"]?.string else { throw bad("missing kind") }
            var deps: [String: Digest] = [:]
            if case .mapping(let map)? = entryNode["deps"] {
                for (path, hash) in map {
                    guard let path = path.string, let digest = hash.string.flatMap(Digest.init(hex:)) else {
                        throw bad("bad dependency hash")
                    }
                    deps[path] = digest
                }
            }
            var params: [String: [String: String]] = [:]
            if case .mapping(let files)? = entryNode["params"] {
                for (file, keys) in files {
                    guard let file = file.string, case .mapping(let keyMap) = keys else { throw bad("bad params") }
                    for (key, value) in keyMap {
                        guard let key = key.string else { throw bad("bad param key") }
                        params[file, default: [:]][key] = CanonicalValue(value).json
                    }
                }
            }
            var outputs: [LockedOutput] = []
            if case .mapping(let map)? = entryNode["outs"] {
                for (path, info) in map {
                    guard let path = path.string, let digest = info["hash"]?.string.flatMap(Digest.init(hex:)) else {
                        throw bad("bad output hash")
                    }
                    outputs.append(
                        LockedOutput(
                            path: path, digest: digest, isDirectory: info["dir"].flatMap(YAMLScalar.bool) ?? false,
                            size: Int64(info["size"].flatMap(YAMLScalar.int) ?? 0),
                            fileCount: info["files"].flatMap(YAMLScalar.int) ?? 1))
                }
            }
            lock.stages[name] = LockEntry(
                signature: signature, kind: kind, deps: deps, params: params, outputs: outputs)
        }
        return lock
    }

    /// The lock as YAML text, in `order` (stage order of the pipeline), each section sorted by path or key.
    public func yaml(order: [String]) -> String {
        var text = "schema: \(Self.schemaVersion)\nstages:\n"
        let names = order.filter { stages[$0] != nil } + stages.keys.filter { !order.contains($0) }.sorted()
        for name in names {
            guard let entry = stages[name] else { continue }
            text += "  \(CanonicalValue.quote(name)):\n"
            text += "    signature: \(entry.signature.hex)\n"
            text += "    kind: \(CanonicalValue.quote(entry.kind))\n"
            if !entry.deps.isEmpty {
                text += "    deps:\n"
                for path in entry.deps.keys.sorted() {
                    guard let digest = entry.deps[path] else { continue }
                    text += "      \(CanonicalValue.quote(path)): \(digest.hex)\n"
                }
            }
            if !entry.params.isEmpty {
                text += "    params:\n"
                for file in entry.params.keys.sorted() {
                    text += "      \(CanonicalValue.quote(file)):\n"
                    let keys = entry.params[file] ?? [:]
                    for key in keys.keys.sorted() {
                        text += "        \(CanonicalValue.quote(key)): \(keys[key] ?? "null")\n"
                    }
                }
            }
            if !entry.outputs.isEmpty {
                text += "    outs:\n"
                for output in entry.outputs.sorted(by: { $0.path < $1.path }) {
                    text += "      \(CanonicalValue.quote(output.path)): {hash: \(output.digest.hex)"
                    if output.isDirectory { text += ", dir: true" }
                    text += ", size: \(output.size), files: \(output.fileCount)}\n"
                }
            }
        }
        return text
    }

    /// Rewrites the lock atomically.
    public func write(to url: URL, order: [String]) throws {
        try AtomicFile.write(Data(yaml(order: order).utf8), to: url)
    }
}
