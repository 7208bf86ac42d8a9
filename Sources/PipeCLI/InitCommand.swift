import ArgumentParser
import ContentStore
import Foundation
import PipelineEngine

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a starter pipeline.yaml and stages/ into an empty directory.")

    @Argument(help: "The directory (default: the current one).")
    var directory: String?

    func run() throws {
        let root = URL(fileURLWithPath: directory ?? FileManager.default.currentDirectoryPath)
        try StarterPipeline.write(into: root)
        Console.output("Wrote pipeline.yaml and stages/hello.yaml in \(root.path). Next: pipe repro")
    }
}

/// The pipeline `pipe init` writes: one runnable stage showing deps, params and outs.
enum StarterPipeline {
    static let pipeline = """
        # pipe pipeline: each stage declares what it reads (deps, params) and writes (outs, metrics, plots).
        # `pipe repro` runs only the stages whose inputs changed; `pipe status` says which and why.
        stages:
          hello:
            desc: A starter stage; replace it with your own.
            cmd: mkdir -p out && grep greeting stages/hello.yaml > out/hello.txt
            params: [greeting]      # read from stages/hello.yaml
            outs: [out/hello.txt]

        """

    static let params = """
        greeting: hello from pipe

        """

    static func write(into root: URL) throws {
        let pipelineURL = root.appendingPathComponent("pipeline.yaml")
        if FileStat.at(pipelineURL.path) != nil {
            throw ValidationError(
                "\(pipelineURL.path) already exists; pipe init only writes into a directory without one")
        }
        let stagesDirectory = root.appendingPathComponent("stages")
        try FileManager.default.createDirectory(at: stagesDirectory, withIntermediateDirectories: true)
        try AtomicFile.write(Data(params.utf8), to: stagesDirectory.appendingPathComponent("hello.yaml"))
        try AtomicFile.write(Data(pipeline.utf8), to: pipelineURL)
    }
}
