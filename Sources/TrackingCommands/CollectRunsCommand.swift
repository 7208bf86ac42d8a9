import ArgumentParser
import Foundation
import Tracking

/// `pipe runs gc --keep N`: keep the newest N runs.
struct CollectRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete all but the newest N runs (running runs are kept) and orphaned run folders.")

    @Option(help: "How many of the newest runs to keep.")
    var keep: Int

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if keep < 0 { throw ValidationError("--keep must be 0 or more") }
    }

    func run() throws {
        let removed = try store.openStore().collectGarbage(keep: keep)
        print("removed \(removed.count) run\(removed.count == 1 ? "" : "s"), kept the newest \(keep)")
    }
}
