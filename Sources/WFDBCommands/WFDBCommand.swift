import ArgumentParser

/// `pipe wfdb`: inspect WFDB records and annotation files.
public struct WFDBCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wfdb",
        abstract: "Inspect WFDB records (.hea/.dat) and annotation files.",
        subcommands: [
            WFDBInfoCommand.self, WFDBSamplesCommand.self, WFDBAnnotationsCommand.self, WFDBCheckCommand.self,
        ]
    )

    public init() {}
}
