import ArgumentParser
import Foundation
import Tracking

/// `pipe runs diff A B`: params and metrics of two runs side by side, with deltas.
struct DiffRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two runs: commits, params and latest metrics with deltas.")

    @Argument(help: ArgumentHelp("The first run (id prefix, @last, @last~N).", valueName: "A"))
    var a: String

    @Argument(help: ArgumentHelp("The second run.", valueName: "B"))
    var b: String

    @Flag(help: "Show every param and metric, not only those that differ.")
    var all = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let runStore = try store.openStoreForReading()
        let diff = try runStore.diff(try runStore.resolve(a), try runStore.resolve(b), all: all)
        print(json ? try RunJSON.encode(diff) : RunDiffFormatter().render(diff), terminator: "")
    }
}
