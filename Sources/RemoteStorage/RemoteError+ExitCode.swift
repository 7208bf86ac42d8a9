import ExitCodes

extension RemoteError: ExitCodeProviding {
    public var exitStatus: ExitStatus { isConfigurationError ? .badInput : .failure }
}
