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

    public func stage(named name: String) -> StageDefinition? { stages.first { $0.name == name } }
}
