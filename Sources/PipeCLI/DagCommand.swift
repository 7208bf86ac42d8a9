import ArgumentParser
import Foundation
import PipelineEngine

struct DagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dag",
        abstract: "Draw the stage graph: ASCII by default, or Graphviz dot, or Mermaid.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Flag(help: "Graphviz dot.")
    var dot = false

    @Flag(help: "A Mermaid flowchart.")
    var mermaid = false

    func validate() throws {
        if dot && mermaid { throw ValidationError("choose one of --dot and --mermaid") }
    }

    func run() throws {
        let graph = try workspaceOptions.workspace().loadGraph()
        let drawing = DagDrawing(graph: graph)
        Console.output(dot ? drawing.dot() : mermaid ? drawing.mermaid() : drawing.ascii())
    }
}
