import ExitCodes

extension ContentStoreError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
