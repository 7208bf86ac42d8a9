import ArgumentParser
import Foundation
import Tracking

/// `pipe runs rm RUN...`: delete runs and their folders.
struct RemoveRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete runs: their records and their runs/<id>/ folders.")

    @Argument(help: ArgumentHelp("Runs to delete (id prefix, @last, @last~N).", valueName: "RUN"))
    var runs: [String]

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if runs.isEmpty { throw ValidationError("name at least one run to delete") }
    }

    func run() throws {
        let runStore = try store.openStore()
        let ids = try runs.map(runStore.resolve)
        try runStore.remove(ids)
        for id in ids { print("removed \(id)") }
    }
}
