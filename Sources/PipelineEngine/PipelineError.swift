import ContentStore
import Foundation

/// A position in a YAML file, 1-based, printed as `file:line:column`.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    /// A value made outside any YAML document (a remote added from the command line): the file it goes into, at
    /// line and column 0.
    public static func whole(_ file: String) -> SourceLocation { SourceLocation(file: file, line: 0, column: 0) }

    public var description: String { "\(file):\(line):\(column)" }
}

/// Everything wrong with a pipeline's definition, its params or its lock file: bad input, exit code 2.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadableFile(path: String, reason: String)
    case malformedYAML(SourceLocation, problem: String)
    /// Aliases expand the document past `limit` nodes (an alias bomb); the location is the alias that crossed it.
    case aliasExpansion(SourceLocation, limit: Int)
    case unexpectedType(SourceLocation, expected: String)
    case unknownKey(SourceLocation, key: String, allowed: [String])
    case duplicateKey(SourceLocation, key: String)
    case invalidStageName(SourceLocation, name: String)
    case noStages(file: String)
    case kindAmbiguous(SourceLocation, stage: String)
    case kindMissing(SourceLocation, stage: String)
    case unknownBuiltin(SourceLocation, name: String, known: [String])
    case emptyCommand(SourceLocation, stage: String)
    case invalidPath(SourceLocation, path: String, problem: String)
    case pathEscapesWorkspace(SourceLocation, path: String, reason: String)
    /// An output (`key` is `outs`, `metrics` or `plots`) that is, lies inside or contains a path pipe or git keeps.
    case protectedOutput(SourceLocation, key: String, path: String, protected: String, what: String)
    case duplicateOutput(SourceLocation, path: String, stage: String, otherStage: String)
    case overlappingOutputs(SourceLocation, path: String, stage: String, enclosing: String, otherStage: String)
    case cycle(SourceLocation, stages: [String])
    case missingDependency(SourceLocation, path: String, stage: String)
    case missingParamsFile(SourceLocation, paramsFile: String, stage: String)
    case missingParam(SourceLocation, key: String, paramsFile: String, stage: String)
    case unknownStage(name: String, known: [String])
    case invalidRemote(SourceLocation, name: String, problem: String)
    case unknownRemote(SourceLocation?, name: String, known: [String])
    /// `pipe remote add/remove` cannot edit the file safely (a flow-style `remotes: {…}`, a duplicate name…).
    case cannotEditRemotes(file: String, problem: String)
    case badOverride(text: String, problem: String)
    /// A `-S` that names no declared param; `suggestion` is the closest `STAGE.KEY` that -S can set.
    case unknownOverride(text: String, problem: String, suggestion: String?)
    case malformedLock(path: String, problem: String)
    case newerLock(path: String, schema: Int, supported: Int)

    public var description: String {
        switch self {
        case .missingFile(let path): return "\(path): no such file"
        case .unreadableFile(let path, let reason): return "\(path): cannot read: \(reason)"
        case .malformedYAML(let at, let problem): return "\(at): malformed YAML: \(problem)"
        case .aliasExpansion(let at, let limit):
            return "\(at): YAML aliases expand the document past \(limit) nodes; refused (an alias bomb?)"
        case .unexpectedType(let at, let expected): return "\(at): expected \(expected)"
        case .unknownKey(let at, let key, let allowed):
            return "\(at): unknown key '\(key)' (allowed: \(allowed.joined(separator: ", ")))"
        case .duplicateKey(let at, let key): return "\(at): duplicate key '\(key)'"
        case .invalidStageName(let at, let name):
            return "\(at): invalid stage name '\(name)' (use letters, digits, '_', '-' and '.')"
        case .noStages(let file): return "\(file): no stages declared (expected a 'stages:' mapping)"
        case .kindAmbiguous(let at, let stage): return "\(at): stage '\(stage)' has both 'uses' and 'cmd'; give one"
        case .kindMissing(let at, let stage): return "\(at): stage '\(stage)' needs either 'uses' or 'cmd'"
        case .unknownBuiltin(let at, let name, let known):
            let list = known.isEmpty ? "none registered" : known.joined(separator: ", ")
            return "\(at): unknown built-in stage '\(name)' (known: \(list))"
        case .emptyCommand(let at, let stage): return "\(at): stage '\(stage)' has an empty 'cmd'"
        case .invalidPath(let at, let path, let problem): return "\(at): invalid path '\(path)': \(problem)"
        case .pathEscapesWorkspace(let at, let path, let reason):
            return "\(at): path '\(path)' escapes the workspace: \(reason)"
        case .protectedOutput(let at, let key, let path, let protected, let what):
            let relation: String
            if path == protected {
                relation = "is \(what)"
            } else if isInside(path, protected) {
                relation = "lies inside '\(protected)' (\(what))"
            } else if isInside(protected, path) {
                relation = "contains '\(protected)' (\(what))"
            } else {
                relation = "reaches '\(protected)' (\(what))"
            }
            return "\(at): \(key) entry '\(path)' \(relation); outputs are deleted before their stage runs, "
                + "so no stage may write there"
        case .duplicateOutput(let at, let path, let stage, let other):
            return "\(at): output '\(path)' of stage '\(stage)' is also an output of stage '\(other)'"
        case .overlappingOutputs(let at, let path, let stage, let enclosing, let other):
            return "\(at): output '\(path)' of stage '\(stage)' lies inside output '\(enclosing)' of stage '\(other)'"
        case .cycle(let at, let stages): return "\(at): the stages form a cycle: \(stages.joined(separator: " → "))"
        case .missingDependency(let at, let path, let stage):
            return "\(at): dependency '\(path)' of stage '\(stage)' does not exist and no stage produces it"
        case .missingParamsFile(let at, let file, let stage):
            return "\(at): params file '\(file)' of stage '\(stage)' does not exist"
        case .missingParam(let at, let key, let file, let stage):
            return "\(at): param '\(key)' of stage '\(stage)' is not in \(file)"
        case .unknownStage(let name, let known):
            return "unknown stage '\(name)' (stages: \(known.joined(separator: ", ")))"
        case .invalidRemote(let at, let name, let problem): return "\(at): remote '\(name)': \(problem)"
        case .unknownRemote(let at, let name, let known):
            let prefix = at.map { "\($0): " } ?? ""
            let list =
                known.isEmpty
                ? "no remotes are configured (pipe remote add NAME URL)" : "known: " + known.joined(separator: ", ")
            return "\(prefix)unknown remote '\(name)' (\(list))"
        case .cannotEditRemotes(let file, let problem): return "\(file): \(problem)"
        case .badOverride(let text, let problem): return "bad --set '\(text)': \(problem)"
        case .unknownOverride(let text, let problem, let suggestion):
            return "bad --set '\(text)': \(problem)" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case .malformedLock(let path, let problem): return "\(path): malformed lock file: \(problem)"
        case .newerLock(let path, let schema, let supported):
            return "\(path): written by a newer pipe (schema \(schema); this pipe reads up to \(supported))"
        }
    }

    /// Where in a file the problem is, when it is in one.
    public var location: SourceLocation? {
        switch self {
        case .malformedYAML(let at, _), .aliasExpansion(let at, _), .unexpectedType(let at, _),
            .unknownKey(let at, _, _), .duplicateKey(let at, _),
            .invalidStageName(let at, _), .kindAmbiguous(let at, _), .kindMissing(let at, _),
            .unknownBuiltin(let at, _, _), .emptyCommand(let at, _), .invalidPath(let at, _, _),
            .pathEscapesWorkspace(let at, _, _), .protectedOutput(let at, _, _, _, _),
            .duplicateOutput(let at, _, _, _),
            .overlappingOutputs(let at, _, _, _, _),
            .cycle(let at, _), .missingDependency(let at, _, _), .missingParamsFile(let at, _, _),
            .missingParam(let at, _, _, _), .invalidRemote(let at, _, _):
            return at
        case .unknownRemote(let at, _, _): return at
        default: return nil
        }
    }
}

/// A repro that could not proceed for a reason other than bad input.
public enum ReproError: Error, CustomStringConvertible, Equatable {
    case workspaceLocked(lockFile: String, holder: String)
    case cannotLock(lockFile: String, reason: String)
    case lockOutOfDate(stages: [String])

    public var description: String {
        switch self {
        case .workspaceLocked(let lockFile, let holder):
            return "another pipe holds the workspace lock \(lockFile): \(holder) (use --wait to wait for it)"
        case .cannotLock(let lockFile, let reason): return "\(lockFile): cannot take the workspace lock: \(reason)"
        case .lockOutOfDate(let stages):
            return "pipeline.lock does not match the workspace (run pipe repro and commit the lock): "
                + stages.joined(separator: "; ")
        }
    }
}

/// Why the engine could not run a stage or take in its outputs. The stage's name is in the stage result the
/// message is shown with, so the messages leave it out.
public enum StageRunError: Error, CustomStringConvertible, Equatable {
    case missingDependency(stage: String, path: String)
    case unknownBuiltin(stage: String, name: String)
    case cannotCreateLog(stage: String, path: String)
    case missingOutput(stage: String, path: String)
    /// `pipe(2)` or `posix_spawn` of the shell for a `cmd:` failed; `reason` is the system's.
    case cannotStartCommand(command: String, step: String, reason: String)

    public var description: String {
        switch self {
        case .missingDependency(_, let path): return "dependency \(path) is missing"
        case .unknownBuiltin(_, let name): return "unknown built-in \(name)"
        case .cannotCreateLog(_, let path): return "cannot create log file \(path)"
        case .missingOutput(_, let path): return "the stage succeeded but did not produce its output \(path)"
        case .cannotStartCommand(let command, let step, let reason):
            return "cannot \(step) for command '\(command)': \(reason)"
        }
    }
}
