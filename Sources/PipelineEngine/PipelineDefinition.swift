import ContentStore
import Foundation

/// What a stage runs: a built-in, in-process stage, or shell commands run in order.
public enum StageKind: Equatable, Sendable {
    case builtin(name: String)
    case command([String])
}

/// Why a stage declares a path it writes: as a plain output, a metrics file or a plot.
public enum OutputRole: String, Equatable, Sendable {
    case out, metric, plot
}

/// A path a stage writes.
public struct OutputDeclaration: Equatable, Sendable {
    public var path: String
    public var role: OutputRole
    /// Committed to the object store after the stage runs (metrics default to false).
    public var cache: Bool
    /// Left in place before the stage runs instead of being removed.
    public var persist: Bool
    public var location: SourceLocation
    /// For a metrics file: the keys in it (`accuracy`, `per_class.V.f1`) that `pipe runs list` shows first, in
    /// order. Cosmetic: not part of the stage's signature.
    public var headline: [String] = []
}

/// A path a stage reads.
public struct DependencyDeclaration: Equatable, Sendable {
    public var path: String
    public var location: SourceLocation
}

/// A params key a stage reads, and the YAML file it is read from.
public struct ParamReference: Equatable, Hashable, Sendable, Comparable {
    /// Workspace-relative params file, e.g. `stages/train.yaml`.
    public var file: String
    /// Dotted key, e.g. `optimizer.lr`.
    public var key: String
    public var location: SourceLocation

    public static func == (lhs: ParamReference, rhs: ParamReference) -> Bool {
        lhs.file == rhs.file && lhs.key == rhs.key
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(file)
        hasher.combine(key)
    }
    public static func < (lhs: ParamReference, rhs: ParamReference) -> Bool {
        (lhs.file, lhs.key) < (rhs.file, rhs.key)
    }
}

/// One stage of `pipeline.yaml`, as declared.
public struct StageDefinition: Equatable, Sendable {
    public var name: String
    public var kind: StageKind
    public var deps: [DependencyDeclaration]
    public var params: [ParamReference]
    public var outputs: [OutputDeclaration]
    public var alwaysChanged: Bool
    public var frozen: Bool
    /// Cosmetic; never part of the signature.
    public var desc: String?
    public var location: SourceLocation

    /// The default params file of this stage, `stages/NAME.yaml`.
    public var defaultParamsFile: String { "stages/\(name).yaml" }
}

/// A whole `pipeline.yaml`: stages in declaration order.
public struct PipelineDefinition: Equatable, Sendable {
    public var file: String
    public var stages: [StageDefinition]
    public var linkMode: LinkMode
    /// The `remotes:` section, in file order.
    public var remotes: [RemoteDefinition] = []
    /// `default_remote:`, checked to name one of `remotes`.
    public var defaultRemote: String?

    public func remote(named name: String) -> RemoteDefinition? { remotes.first { $0.name == name } }

    public func stage(named name: String) -> StageDefinition? { stages.first { $0.name == name } }
}

/// One entry of `remotes:` in `pipeline.yaml`: where the cache is pushed to and pulled from. Credentials never
/// live here (the file is committed); they come from the environment, the AWS way.
public struct RemoteDefinition: Equatable, Sendable {
    public var name: String
    /// `s3://BUCKET/PREFIX`, `file:///path`, or a directory path (relative paths are relative to the workspace).
    public var url: String
    /// An S3-compatible server (`http://127.0.0.1:9000`) instead of AWS.
    public var endpoint: String?
    public var region: String?
    public var location: SourceLocation

    public init(name: String, url: String, endpoint: String? = nil, region: String? = nil, location: SourceLocation) {
        self.name = name
        self.url = url
        self.endpoint = endpoint
        self.region = region
        self.location = location
    }

    public var isS3: Bool { url.lowercased().hasPrefix("s3://") }
}

extension RemoteDefinition {
    /// What is wrong with a remote URL, or nil when it is usable.
    public static func problem(url: String) -> String? {
        let lowered = url.lowercased()
        if lowered.hasPrefix("s3://") {
            let rest = url.dropFirst(5)
            let bucket = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard bucket.count >= 3, bucket.count <= 63,
                bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }),
                bucket.first?.isLetter == true || bucket.first?.isNumber == true
            else {
                return "'\(url)': an S3 bucket name has 3 to 63 lowercase letters, digits, '-' or '.'"
            }
            return nil
        }
        if lowered.hasPrefix("file://") {
            return url.dropFirst(7).hasPrefix("/") ? nil : "'\(url)': a file:// URL needs an absolute path"
        }
        if let scheme = url.range(of: "://") {
            return "'\(url)': unsupported scheme '\(url[..<scheme.lowerBound])' (use s3://, file:// or a directory)"
        }
        return url.isEmpty ? "empty url" : nil
    }
}
