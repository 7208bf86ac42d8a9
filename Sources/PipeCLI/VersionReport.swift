import CPUFeatures
import Foundation
import ONNX

/// `pipe --version --verbose`: the version, then the facts of this build and this machine a bug report needs
/// (compiler, build configuration, the SIMD kernel path that runs and why, the BLAS library).
enum VersionReport {
    /// Both flags, in either order, and nothing else.
    static func isRequested(_ arguments: [String]) -> Bool {
        arguments.count == 2 && Set(arguments) == ["--version", "--verbose"]
    }

    static func text(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        features: CPUFeatures = .current
    ) -> String {
        let request = environment[KernelDispatch.variable]
        let choice = KernelDispatch.choose(request: request, features: features)
        let detected = KernelDispatch.best(for: features)
        var why =
            choice.path == detected
            ? "the widest this CPU and OS support" : "forced by \(KernelDispatch.variable)"
        if let warning = choice.warning { why = warning }
        let lines = [
            "pipe \(PipeCommand.version)",
            "swift: \(compilerVersion), \(configuration) build",
            "platform: \(platform), \(ProcessInfo.processInfo.activeProcessorCount) processors",
            "cpu: \(features.vendor.isEmpty ? "unknown vendor" : features.vendor); \(features.summary)",
            "kernels: \(choice.path.rawValue) (\(why)); \(KernelDispatch.variable)=avx2 forces the AVX2 + FMA path",
            "blas: \(ONNXRuntime.blasConfiguration)",
        ]
        return lines.joined(separator: "\n")
    }

    private static var compilerVersion: String {
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    private static var configuration: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }

    private static var platform: String {
        #if os(Linux)
        let system = "Linux"
        #elseif os(macOS)
        let system = "macOS"
        #else
        let system = "unknown OS"
        #endif
        #if arch(x86_64)
        return system + " x86_64"
        #elseif arch(arm64)
        return system + " arm64"
        #else
        return system + " unknown architecture"
        #endif
    }
}
