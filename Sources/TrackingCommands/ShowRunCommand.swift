import ArgumentParser
import Foundation
import Tracking

/// `pipe runs show RUN`: one run in full.
struct ShowRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a run: facts, stage outcomes, params, each metric's history, artifacts.")

    @Argument(help: ArgumentHelp("A unique id prefix, @last or @last~N.", valueName: "RUN"))
    var reference: String

    @Flag(help: "Print JSON, including every logged metric value.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let runStore = try store.openStoreForReading()
        let detail = try runStore.show(try runStore.resolve(reference))
        print(json ? try RunJSON.encode(detail) : RunDetailFormatter().render(detail), terminator: "")
    }
}
