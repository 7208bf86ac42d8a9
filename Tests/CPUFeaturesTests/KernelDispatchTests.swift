import XCTest

@testable import CPUFeatures

/// PIPE_CPU and the processor's features → the kernel path, and the warnings that name the variable.
final class KernelDispatchTests: XCTestCase {
    private var avx512Machine: CPUFeatures {
        var features = CPUFeatures()
        (features.avx2, features.fma, features.osSavesYMM, features.osSavesZMM) = (true, true, true, true)
        (features.avx512f, features.avx512dq, features.avx512bw, features.avx512vl) = (true, true, true, true)
        return features
    }

    private var avx2Machine: CPUFeatures {
        var features = CPUFeatures()
        (features.avx2, features.fma, features.osSavesYMM) = (true, true, true)
        return features
    }

    private func requireX86() throws {
        #if !arch(x86_64)
        throw XCTSkip("the AVX paths exist on x86-64 only")
        #endif
    }

    func testAutoPicksTheWidestPathTheCPUAndOSSupport() throws {
        try requireX86()
        for request in [nil, "", "auto", " AUTO "] {
            XCTAssertEqual(KernelDispatch.choose(request: request, features: avx512Machine).path, .avx512)
            XCTAssertNil(KernelDispatch.choose(request: request, features: avx512Machine).warning)
            XCTAssertEqual(KernelDispatch.choose(request: request, features: avx2Machine).path, .avx2)
        }
    }

    func testAVX512NeedsTheOSToSaveZMMState() throws {
        try requireX86()
        var features = avx512Machine
        features.osSavesZMM = false
        XCTAssertFalse(features.supportsAVX512)
        XCTAssertEqual(KernelDispatch.best(for: features), .avx2)
        features = avx512Machine
        features.avx512bw = false
        XCTAssertEqual(KernelDispatch.best(for: features), .avx2, "F, DQ, BW and VL are all needed")
    }

    func testAVX2ForcesTheBaselineOnAnAVX512Machine() throws {
        try requireX86()
        let choice = KernelDispatch.choose(request: "avx2", features: avx512Machine)
        XCTAssertEqual(choice.path, .avx2)
        XCTAssertNil(choice.warning)
    }

    func testAskingForAVX512WithoutItWarnsAndRunsTheBaseline() throws {
        try requireX86()
        let choice = KernelDispatch.choose(request: "avx512", features: avx2Machine)
        XCTAssertEqual(choice.path, .avx2)
        let warning = try XCTUnwrap(choice.warning)
        XCTAssertTrue(warning.contains("PIPE_CPU=avx512"), warning)
        XCTAssertTrue(warning.contains("does not support it"), warning)
    }

    func testAnUnknownValueWarnsNamingTheVariableAndTheChoices() {
        let choice = KernelDispatch.choose(request: "sse2", features: avx512Machine)
        XCTAssertEqual(choice.path, KernelDispatch.best(for: avx512Machine))
        let warning = choice.warning ?? ""
        XCTAssertTrue(warning.contains("PIPE_CPU='sse2'"), warning)
        XCTAssertTrue(warning.contains("auto, avx2, avx512"), warning)
    }

    func testThisMachinesFeaturesAreConsistent() {
        let features = CPUFeatures.detect()
        XCTAssertEqual(features, CPUFeatures.current, "read once and again: the same CPU")
        if features.supportsAVX512 { XCTAssertTrue(features.supportsAVX2) }
        if features.osSavesZMM { XCTAssertTrue(features.osSavesYMM) }
        #if arch(x86_64)
        // The package compiles its baseline for AVX2 + FMA: a machine running these tests has them.
        XCTAssertTrue(features.supportsAVX2, features.summary)
        XCTAssertFalse(features.vendor.isEmpty)
        #endif
    }
}
