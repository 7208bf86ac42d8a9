import ArgumentParser
import ContentStore
import Foundation
import PipelineEngine

/// `pipe remote list | add | remove`: edits the `remotes:` section of `pipeline.yaml`, byte for byte elsewhere.
struct RemoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote",
        abstract: "List, add or remove the remotes that push and pull use (the remotes: section of pipeline.yaml).",
        subcommands: [RemoteListCommand.self, RemoteAddCommand.self, RemoteRemoveCommand.self],
        defaultSubcommand: RemoteListCommand.self)
}

struct RemoteListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Print the configured remotes.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    func run() throws {
        let definition = try workspaceOptions.workspace().loadGraph().definition
        guard !definition.remotes.isEmpty else {
            Console.output("No remotes configured (pipe remote add NAME URL --default).")
            return
        }
        for remote in definition.remotes {
            var line = "\(remote.name)\t\(remote.url)"
            if let endpoint = remote.endpoint { line += "\tendpoint=\(endpoint)" }
            if let region = remote.region { line += "\tregion=\(region)" }
            if definition.defaultRemote == remote.name { line += "\t(default)" }
            Console.output(line)
        }
    }
}

struct RemoteAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a remote: s3://BUCKET/PREFIX, file:///PATH or a directory.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The remote's name.") var name: String
    @Argument(help: "s3://BUCKET/PREFIX, file:///PATH or a directory path.") var url: String
    @Option(help: "An S3-compatible server, e.g. http://127.0.0.1:9000 (MinIO, Ceph, R2, moto).") var endpoint: String?
    @Option(help: "The bucket's region (default: the AWS configuration's, else us-east-1).") var region: String?
    @Flag(name: [.customShort("d"), .long], help: "Make it default_remote.") var `default` = false
    @Flag(name: [.customShort("f"), .long], help: "Replace a remote of the same name.") var force = false

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        try editPipeline(workspace) { editor in
            let location = SourceLocation.whole("pipeline.yaml")
            try editor.add(
                RemoteDefinition(name: name, url: url, endpoint: endpoint, region: region, location: location),
                makeDefault: `default`, replace: force)
        }
        Console.output("Added remote '\(name)' (\(url))\(`default` ? " as the default" : "").")
    }
}

struct RemoteRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a remote.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The remote's name.") var name: String

    func run() throws {
        try editPipeline(try workspaceOptions.workspace()) { try $0.remove(name) }
        Console.output("Removed remote '\(name)'.")
    }
}

/// Reads `pipeline.yaml`, applies one edit, checks the result parses, and writes it atomically.
private func editPipeline(_ workspace: Workspace, _ edit: (inout RemoteSectionEditor) throws -> Void) throws {
    let url = workspace.pipelineURL
    guard let data = try? Data(contentsOf: url), let text = String(data: data, encoding: .utf8) else {
        throw PipelineError.unreadableFile(path: "pipeline.yaml", reason: "not readable UTF-8 text")
    }
    _ = try workspace.loadGraph()  // a file that is already invalid is reported as such, not edited
    var editor = RemoteSectionEditor(text: text, file: "pipeline.yaml", registry: workspace.registry)
    try edit(&editor)
    do { try AtomicFile.write(Data(editor.text.utf8), to: url) } catch {
        throw PipelineError.unreadableFile(path: "pipeline.yaml", reason: "cannot write: \(error)")
    }
}
