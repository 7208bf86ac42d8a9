import Foundation
import XCTest

/// `pipe --version --verbose`: the build's facts, the kernel path that runs, and PIPE_CPU's effect on it.
final class VersionReportTests: XCTestCase {
    private func lines(_ output: BinaryHarness.Output) -> [String] {
        output.stdout.split(separator: "\n").map(String.init)
    }

    func testPlainVersionStaysOneLine() throws {
        let output = try BinaryHarness().run(["--version"])
        XCTAssertEqual(output.status, 0)
        XCTAssertEqual(lines(output).count, 1, output.stdout)
    }

    func testVerboseVersionNamesTheCompilerTheKernelsAndTheBLAS() throws {
        let output = try BinaryHarness().run(["--version", "--verbose"], environment: ["PIPE_CPU": "auto"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let report = lines(output)
        XCTAssertTrue(report.first?.hasPrefix("pipe ") ?? false, output.stdout)
        for prefix in ["swift: ", "platform: ", "cpu: ", "kernels: ", "blas: OpenBLAS"] {
            XCTAssertTrue(report.contains { $0.hasPrefix(prefix) }, "no '\(prefix)' line in:\n\(output.stdout)")
        }
        #if arch(x86_64)
        let kernels = report.first { $0.hasPrefix("kernels: ") } ?? ""
        let cpu = report.first { $0.hasPrefix("cpu: ") } ?? ""
        let wide = ["avx512f", "avx512dq", "avx512bw", "avx512vl", "OS saves ZMM state"].allSatisfy(cpu.contains)
        let expected = wide ? "avx512" : "avx2"
        XCTAssertTrue(kernels.hasPrefix("kernels: \(expected) (the widest"), "\(cpu)\n\(kernels)")
        #endif
    }

    func testPIPE_CPUAvx2ForcesTheBaselineAndTheReportSaysSo() throws {
        #if !arch(x86_64)
        throw XCTSkip("the AVX2 path exists on x86-64 only")
        #endif
        let output = try BinaryHarness().run(["--verbose", "--version"], environment: ["PIPE_CPU": "avx2"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let kernels = lines(output).first { $0.hasPrefix("kernels: ") } ?? ""
        XCTAssertTrue(kernels.hasPrefix("kernels: avx2 ("), kernels)
    }

    func testAnUnknownPIPE_CPUIsNamedInTheReport() throws {
        let output = try BinaryHarness().run(["--version", "--verbose"], environment: ["PIPE_CPU": "sse9"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(
            output.stdout.contains("PIPE_CPU='sse9' is not one of auto, avx2, avx512"), output.stdout)
    }
}
