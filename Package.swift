// swift-tools-version:6.0
import PackageDescription

// The SIMD kernels of NeuralNet and ONNX need FMA: on x86-64 they are compiled for haswell (AVX2 + FMA + BMI, the
// x86-64-v3 level; Swift 6.3's clang importer refuses the name "x86-64-v3"). Other architectures have FMA anyway.
// VectorKernelsAVX512 specializes the same kernels for AVX-512 F/DQ/BW/VL (skylake-avx512; the importer refuses
// "x86-64-v4" too); the runtime calls into it only where CPUFeatures finds that level and the OS saving ZMM state.
#if arch(x86_64)
let simdSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512"])]
#else
let simdSettings: [SwiftSetting] = []
let avx512Settings: [SwiftSetting] = []
#endif

let package = Package(
    name: "pipe",
    products: [
        .executable(name: "pipe", targets: ["pipe"]),
        .executable(name: "fuzz-wfdb-header", targets: ["WFDBHeaderFuzzer"]),
        .executable(name: "fuzz-wfdb-signal", targets: ["WFDBSignalFuzzer"]),
        .executable(name: "fuzz-wfdb-annotation", targets: ["WFDBAnnotationFuzzer"]),
        .executable(name: "fuzz-params", targets: ["ParamsFuzzer"]),
        .executable(name: "fuzz-onnx", targets: ["ONNXFuzzer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // Five-line entry point: hands the process arguments to PipeCLI.
        .executableTarget(name: "pipe", dependencies: ["PipeCLI"]),
        // Commands: argument parsing, validation, one call into a library, exit-code mapping.
        .target(
            name: "PipeCLI",
            dependencies: [
                "PipelineEngine", "Tracking", "TrackingCommands", "WFDB", "WFDBCommands", "QRSCommands", "ECGStages",
                "ECGInference", "ONNX", "ContentStore", "RemoteStorage", "RemoteSync", "Experiments", "Report",
                "TrackingExport", "ExitCodes", "CPUFeatures", "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // pipeline.yaml model and validation, stage DAG, planner with reasons, parallel executor,
        // built-in stage protocol and registry, pipeline.lock, workspace lock. Knows nothing of ECG.
        .target(
            name: "PipelineEngine",
            dependencies: [
                "ContentStore", "SystemFacts", "JSONText", "ExitCodes", .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The exit-code protocol every domain's error enum adopts (1 a failure, 2 bad input), for PipeCLI's mapping.
        .target(name: "ExitCodes"),
        // JSON string literals, escaped one way for stage signatures, pipeline.lock and every command's JSON; the one
        // scalar-replacing loop behind the HTML, SVG and S3 XML escapers too.
        .target(name: "JSONText"),
        // Experiments: the sweep grammar and grid, isolated workspaces sharing `.cache/`, local (-j) and Slurm executors.
        .target(
            name: "Experiments",
            dependencies: [
                "PipelineEngine", "ContentStore", "Tracking", "ExitCodes", .product(name: "Yams", package: "Yams"),
            ]
        ),
        // SHA-256 hashing (files, directory manifests), stat cache, object store, run-cache, checkout.
        .target(name: "ContentStore", dependencies: ["COpenSSL", "Parallel", "SystemFacts", "ExitCodes"]),
        // What the kernel says about a path (the kind of a non-regular file, from stat(2)) and about a process (its
        // /proc/PID/stat fields and start time), for every layer that checks a path or a pid. Foundation only.
        .target(name: "SystemFacts"),
        // An ordered parallel map (first error in input order rethrown) and parallel loops over indices and
        // contiguous ranges, for records, files, training shards and kernels. Foundation only.
        .target(name: "Parallel"),
        // OpenSSL libcrypto (EVP digests) from Debian's libssl-dev.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Run tracking: the SQLite run store (runs, stage runs, params, metrics with history, artifacts), git facts.
        .target(
            name: "Tracking",
            dependencies: [
                "CGit2", "SystemFacts", "ExitCodes", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // `pipe runs list/show/diff/rm/gc` and `pipe runs export|import mlflow`: argument parsing over Tracking and
        // TrackingExport.
        .target(
            name: "TrackingCommands",
            dependencies: [
                "Tracking", "TrackingExport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // MLflow REST client over Transport: export of the store's runs to a tracking server and import back.
        .target(
            name: "TrackingExport",
            dependencies: [
                "Tracking", "Transport", "ContentStore", "ExitCodes", .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `pipe report`'s one self-contained HTML page comparing runs (tables, curves, evaluation, diff, stage graph).
        .target(name: "Report", dependencies: ["Tracking", "PipelineEngine", "JSONText", "ExitCodes"]),
        // .hea / .dat / .atr reading; signal and annotation writing. Foundation only (and the exit-code protocol).
        .target(name: "WFDB", dependencies: ["SystemFacts", "ExitCodes"]),
        // `pipe wfdb info|samples|annotations|check`: argument parsing, one call into WFDB, printing.
        .target(
            name: "WFDBCommands",
            dependencies: [
                "WFDB", "JSONText", "Parallel", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // ECG signal processing on plain sample arrays: filters, resampling, QRS detection, bxb matching,
        // beat windows, AAMI classes, RR features. Knows nothing of files or of the CLI.
        .target(name: "ECGSignal", dependencies: ["ExitCodes"], swiftSettings: simdSettings),
        // `pipe qrs` and `pipe qrs eval`: argument parsing over ECGSignal and WFDB.
        .target(
            name: "QRSCommands",
            dependencies: [
                "ECGSignal", "WFDB", "Parallel", "ExitCodes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The built-in ECG stages (fetch, preprocess, train, evaluate, export): file formats, beat extraction and glue
        // between the engine's stage protocol and the signal and model libraries. Knows nothing of the CLI.
        .target(
            name: "ECGStages",
            dependencies: [
                "PipelineEngine", "ECGSignal", "WFDB", "NeuralNet", "ONNX", "ContentStore", "Transport", "JSONText",
                "Parallel", "ExitCodes", .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `pipe infer`'s library: beat classification of raw records with an exported ONNX model (the model read once,
        // beats cut as ecg.preprocess cuts them), the record lists, the parallel schedule, the reports.
        .target(
            name: "ECGInference",
            dependencies: ["ECGStages", "ECGSignal", "WFDB", "ONNX", "ContentStore", "Parallel", "ExitCodes"]
        ),
        // HTTP/1.1 client over POSIX sockets and libssl: methods, streamed request and response bodies, ranges,
        // redirects, a keep-alive connection pool. No domain knowledge: ecg.fetch and the S3 remote use it.
        .target(name: "Transport", dependencies: ["CLibSSL", "ExitCodes"]),
        // Remote storage for the cache: a protocol (list / exists / get / put / delete) with a directory and an S3
        // implementation (Signature V4, multipart, retries), and the push / fetch / gc transfer plans.
        .target(
            name: "RemoteStorage", dependencies: ["ContentStore", "Transport", "COpenSSL", "JSONText", "ExitCodes"]
        ),
        // push / fetch / pull / status --remote / gc: which objects of a workspace's lock (or of every commit's)
        // move between `.cache/` and a remote, verified on the way. Knows the cache layout, not the remote protocol.
        .target(
            name: "RemoteSync",
            dependencies: ["PipelineEngine", "RemoteStorage", "ContentStore", "Tracking", "Transport"]
        ),
        // OpenSSL libssl (TLS for the Transport client) from Debian's libssl-dev, with wrappers for its macros.
        .systemLibrary(name: "CLibSSL", pkgConfig: "libssl", providers: [.apt(["libssl-dev"])]),
        // ONNX: hand-written protobuf wire format, a builder for export, a loader and a planned CPU runtime.
        .target(
            name: "ONNX",
            dependencies: ["CBLAS", "Parallel", "ExitCodes", "CPUFeatures", "VectorKernels", "VectorKernelsAVX512"],
            swiftSettings: simdSettings
        ),
        // The runtime's hot loops (direct convolution, bias + Relu, pooling), generic over an instruction-set marker
        // so that each target compiled for an instruction set specializes them under its own flags and names.
        .target(name: "VectorKernels", swiftSettings: simdSettings),
        // VectorKernels specialized for AVX-512: called only on a CPU that has it.
        .target(name: "VectorKernelsAVX512", dependencies: ["VectorKernels"], swiftSettings: avx512Settings),
        // Which SIMD kernel path runs: CPUID and XGETBV read once at start-up, and the PIPE_CPU override.
        .target(name: "CPUFeatures", dependencies: ["CCPUID"]),
        // CPUID and XGETBV, the two instructions Swift cannot issue (C, inline assembly).
        .target(name: "CCPUID"),
        // 1D CNN training in Float32, llm.c style: explicit forward/backward per layer, one parameter buffer,
        // softmax cross-entropy, Adam/AdamW, seeded RNG, versioned checkpoints.
        .target(name: "NeuralNet", dependencies: ["CBLAS", "Parallel", "ExitCodes"], swiftSettings: simdSettings),
        // OpenBLAS's CBLAS interface from Debian's libopenblas-dev (pkg-config `openblas`).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // libFuzzer targets, one per WFDB parser, the params YAML reader and the ONNX loader (fuzz/run.sh builds them
        // with -DFUZZING; a plain build makes replay tools that run the parser on the files given as arguments).
        .executableTarget(name: "WFDBHeaderFuzzer", dependencies: ["WFDB"], path: "fuzz/WFDBHeaderFuzzer"),
        .executableTarget(name: "WFDBSignalFuzzer", dependencies: ["WFDB"], path: "fuzz/WFDBSignalFuzzer"),
        .executableTarget(name: "WFDBAnnotationFuzzer", dependencies: ["WFDB"], path: "fuzz/WFDBAnnotationFuzzer"),
        .executableTarget(name: "ParamsFuzzer", dependencies: ["PipelineEngine"], path: "fuzz/ParamsFuzzer"),
        .executableTarget(name: "ONNXFuzzer", dependencies: ["ONNX"], path: "fuzz/ONNXFuzzer"),
        // libgit2 from Debian's libgit2-dev, with static inline wrappers for its variadic calls.
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),

        .testTarget(name: "ContentStoreTests", dependencies: ["ContentStore"]),
        .testTarget(name: "ParallelTests", dependencies: ["Parallel"]),
        .testTarget(name: "JSONTextTests", dependencies: ["JSONText"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Tracking", "ServiceFixtures"]),
        // Real services for the tests: S3TestServer starts moto's S3 server (authentication on) through
        // scripts/s3_test_server.py (found through #filePath) and stops it by its pid.
        .target(name: "ServiceFixtures", path: "Tests/ServiceFixtures"),
        .testTarget(
            name: "RemoteStorageTests", dependencies: ["RemoteStorage", "ContentStore", "Transport", "ServiceFixtures"]
        ),
        .testTarget(
            name: "PipelineEngineTests",
            dependencies: ["PipelineEngine", "ContentStore", "SystemFacts", .product(name: "Yams", package: "Yams")]
        ),
        // MLflowTestServer.swift starts `mlflow server` through scripts/mlflow_test_server.py (#filePath).
        .testTarget(
            name: "PipeCLITests",
            dependencies: [
                "PipeCLI", "pipe", "Tracking", "WFDB", "ECGFixtures", "ServiceFixtures",
                // ExitCodeTests: one error of every domain.
                "ExitCodes", "PipelineEngine", "ContentStore", "ECGStages", "ECGInference", "ECGSignal", "NeuralNet",
                "ONNX", "QRSCommands", "RemoteStorage", "TrackingExport", "Transport", "Experiments", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fixtures/original_torch.onnx + .json are read through #filePath (written by scripts/onnx_reference.py).
        // Fixtures/neuralnet_reference.json is read through #filePath (written by scripts/neuralnet_reference.py).
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet"], exclude: ["Fixtures"]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "CPUFeatures"], exclude: ["Fixtures"]),
        .testTarget(name: "CPUFeaturesTests", dependencies: ["CPUFeatures"]),
        // Synthetic ECG records for the signal and stage tests.
        .target(name: "ECGFixtures", path: "Tests/ECGFixtures"),
        .testTarget(
            name: "ECGStagesTests",
            dependencies: [
                "ECGStages", "ECGFixtures", "PipelineEngine", "ECGSignal", "WFDB", "ContentStore", "NeuralNet", "ONNX",
            ]
        ),
        .testTarget(
            name: "ECGInferenceTests",
            dependencies: ["ECGInference", "ECGStages", "ECGFixtures", "ECGSignal", "WFDB", "NeuralNet", "ONNX"]
        ),
        .testTarget(
            name: "ECGSignalTests",
            dependencies: [
                "ECGSignal", "ECGFixtures", "QRSCommands", "WFDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fixtures/mitdb_reference.json is read through #filePath (written by scripts/wfdb_reference.py).
        .testTarget(
            name: "WFDBTests",
            dependencies: ["WFDB", "WFDBCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            exclude: ["Fixtures"]
        ),
        // The MLflow client's batching, mapping and settings, without a server (PipeCLITests has the server tests).
        .testTarget(name: "TrackingExportTests", dependencies: ["TrackingExport", "Tracking"]),
        .testTarget(
            name: "TrackingTests",
            dependencies: [
                "Tracking", "TrackingCommands", "SystemFacts", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The report's HTML builder, and the page in headless Chromium (DevTools protocol through scripts/cdp.py).
        .testTarget(name: "ReportTests", dependencies: ["Report", "Tracking", "PipelineEngine"]),
    ],
    swiftLanguageModes: [.v5]
)
