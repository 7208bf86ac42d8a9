import ArgumentParser
import ContentStore
import Experiments
import Foundation
import PipelineEngine
import Tracking

/// `pipe exp apply RUN`: an experiment's params into `stages/*.yaml` (only the values change), then its outputs
/// from the cache, so that `pipe status` is up to date.
struct ExpApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract:
            "Bring an experiment's params (rewriting only the values in stages/*.yaml) and outputs into the workspace.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: ArgumentHelp("The experiment's run: an id prefix, @last or @last~N.", valueName: "run"))
    var reference: String

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        let store = try RunStore.open(workspace: workspace.root)
        let id = try store.resolve(reference)
        guard let tag = try store.sweepTag(of: id) else { throw ExperimentError.notAnExperiment(run: id.rawValue) }
        let detail = try store.show(id)
        let graph = try workspace.loadGraph()
        var edits: [String: [(key: String, value: String, shown: String)]] = [:]
        for param in detail.params where param.overridden {
            let text = ParamsFileEditor.yamlText(forStoredValue: param.value, isNumber: param.number != nil)
            guard
                let bound = try ParamOverride.bind(
                    [try ParamOverride(parsing: "\(param.key)=\(text)")],
                    to: graph.definition
                ).first
            else { continue }
            edits[bound.file, default: []].append((bound.key, text, param.key))
        }
        for file in edits.keys.sorted() {
            let url = workspace.root.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw PipelineError.missingFile(path: file)
            }
            var editor = ParamsFileEditor(text: String(decoding: data, as: UTF8.self), display: file)
            for edit in edits[file] ?? [] {
                try editor.set(edit.key, to: edit.value)
                Console.output("\(file): \(edit.key) = \(edit.value)")
            }
            try AtomicFile.write(Data(editor.text.utf8), to: url)
        }
        Console.output("applied experiment \(tag.experiment) of sweep '\(tag.sweepName)' (run \(id.rawValue))")
        var options = ReproOptions()
        options.commandLine = "pipe exp apply \(reference)"
        let reporter = ConsoleReporter(workspace: workspace.root, json: false)
        let summary = try workspace.repro(options, observer: reporter)
        reporter.finish(summary, dryRun: false)
        if !summary.succeeded { throw ExitCode(1) }
    }
}
