// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pipe",
    products: [
        .executable(name: "pipe", targets: ["pipe"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // Five-line entry point: hands the process arguments to PipeCLI.
        .executableTarget(name: "pipe", dependencies: ["PipeCLI"]),
        // Commands: argument parsing, validation, one call into a library, exit-code mapping.
        .target(
            name: "PipeCLI",
            dependencies: [
                "PipelineEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // pipeline.yaml model and validation, stage DAG, planner with reasons, parallel executor,
        // built-in stage protocol and registry, pipeline.lock, workspace lock. Knows nothing of ECG.
        .target(
            name: "PipelineEngine",
            dependencies: ["ContentStore", .product(name: "Yams", package: "Yams")]
        ),
        // SHA-256 hashing (files, directory manifests), stat cache, object store, run-cache, checkout.
        .target(name: "ContentStore", dependencies: ["COpenSSL"]),
        // OpenSSL libcrypto (EVP digests) from Debian's libssl-dev.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        .testTarget(name: "ContentStoreTests", dependencies: ["ContentStore"]),
        .testTarget(name: "PipelineEngineTests", dependencies: ["PipelineEngine"]),
        .testTarget(name: "PipeCLITests", dependencies: ["PipeCLI", "pipe"]),
    ],
    swiftLanguageModes: [.v5]
)
