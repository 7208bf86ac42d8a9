import ArgumentParser

/// `pipe qrs`: QRS detection and its beat-by-beat evaluation. `pipe qrs RECORD` runs `detect`.
public struct QRSCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "qrs",
        abstract: "Detect QRS complexes (R peaks) and evaluate them against reference annotations.",
        subcommands: [QRSDetectCommand.self, QRSEvalCommand.self, QRSStressCommand.self, QRSResampleCommand.self],
        defaultSubcommand: QRSDetectCommand.self
    )

    public init() {}
}
