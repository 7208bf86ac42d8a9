import ContentStore
import ECGStages
import Foundation
import WFDB
import XCTest

@testable import PipelineEngine

/// `ecg.fetch` against a loopback HTTP server and local directories holding small WFDB records.
final class FetchStageTests: XCTestCase {
    /// A fresh fixture, its server stopped and its files removed when the test ends.
    private func makeFixture() throws -> FetchFixture {
        let fixture = try FetchFixture()
        addTeardownBlock { fixture.cleanUp() }
        return fixture
    }

    // MARK: HTTP

    func testAFullFetchVerifiesEveryFileAndWritesAnIndex() throws {
        let fixture = try makeFixture()
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(run.error)
        for file in fixture.databaseFiles {
            XCTAssertEqual(try fixture.outputData(file), try fixture.sourceData(file), file)
        }
        XCTAssertEqual(try fixture.outputText("RECORDS"), "100\n101\n102\n")
        let sums = try fixture.outputText("SHA256SUMS")
        XCTAssertEqual(sums.split(separator: "\n").count, 9)
        XCTAssertTrue(sums.hasPrefix("\(try fixture.sourceDigest("100.hea").hex)  100.hea\n"), sums)
        XCTAssertTrue(run.lines.contains { $0.hasPrefix("source \(fixture.server.base) (from the source param)") })
        XCTAssertTrue(
            run.lines.contains { $0.hasPrefix("fetched 3 records, 9 files, ") && $0.contains("all SHA-256 verified") },
            "\(run.lines)")
        XCTAssertTrue(run.progress.last?.contains("(9/9 files)") == true, "\(run.progress.suffix(1))")
        XCTAssertEqual(try fixture.partialFiles(), [], "no partial download is left behind")
        XCTAssertTrue(fixture.server.requests.allSatisfy { $0.range == nil }, "nothing to resume")
    }

    func testACorruptedFileFailsNamingItAndBothHashesAndIsNotKept() throws {
        let fixture = try makeFixture()
        fixture.server.corrupt("101.dat")
        let run = try fixture.runStage(source: fixture.server.base)
        let message = try XCTUnwrap(run.error)
        var served = try fixture.sourceData("101.dat")
        served[served.count / 2] ^= 0xFF
        XCTAssertTrue(message.contains("SHA-256 mismatch for 101.dat"), message)
        XCTAssertTrue(message.contains(try fixture.sourceDigest("101.dat").hex), message)
        XCTAssertTrue(message.contains(Digest.of(served).hex), message)
        XCTAssertFalse(fixture.outputExists("101.dat"))
        XCTAssertEqual(
            try fixture.outputListing().filter { $0.hasPrefix(".") || $0.hasPrefix("101.dat") }, [],
            "no temporary or unverified file in the output")
        XCTAssertEqual(try fixture.partialFiles(), [], "a partial download that failed verification is deleted")
    }

    func testADroppedConnectionIsResumedWithARangeRequest() throws {
        let fixture = try makeFixture()
        fixture.server.drop("100.dat", afterBytes: 10_000, times: 1)
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(run.error)
        XCTAssertEqual(
            fixture.server.requests(for: "100.dat"),
            [.init(path: "100.dat", range: nil), .init(path: "100.dat", range: "bytes=10000-")])
        XCTAssertEqual(try fixture.outputData("100.dat"), try fixture.sourceData("100.dat"))
        XCTAssertTrue(run.lines.contains { $0.contains("retrying 100.dat (attempt 2 of 3)") }, "\(run.lines)")
    }

    func testAnInterruptedRunLeavesAPartialDownloadThatTheNextRunResumes() throws {
        let fixture = try makeFixture()
        fixture.server.drop("102.dat", afterBytes: 7_000, times: 1_000)
        let failed = try fixture.runStage(source: fixture.server.base, stage: FetchStage(environment: [:], attempts: 1))
        let message = try XCTUnwrap(failed.error)
        XCTAssertTrue(message.contains("cannot fetch \(fixture.server.base)102.dat: connection closed after"), message)
        XCTAssertFalse(fixture.outputExists("102.dat"))
        XCTAssertEqual(try fixture.partialFiles(), ["102.dat"])
        let partialSize = try XCTUnwrap(FileStat.at(fixture.partialURL("102.dat").path)?.size)
        XCTAssertEqual(partialSize, 7_000)

        fixture.server.stopDropping()
        try fixture.resetOutput()
        let resumed = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(resumed.error)
        XCTAssertEqual(fixture.server.requests(for: "102.dat").last?.range, "bytes=7000-")
        XCTAssertEqual(try fixture.outputData("102.dat"), try fixture.sourceData("102.dat"))
        XCTAssertEqual(try fixture.partialFiles(), [])
    }

    func testACompletePartialDownloadIsUsedWithoutARequest() throws {
        let fixture = try makeFixture()
        try fixture.writePartial("101.dat", try fixture.sourceData("101.dat"))
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(run.error)
        XCTAssertEqual(fixture.server.requests(for: "101.dat"), [])
        XCTAssertEqual(try fixture.outputData("101.dat"), try fixture.sourceData("101.dat"))
        XCTAssertEqual(try fixture.partialFiles(), [])
    }

    func testAStalePartialDownloadThatFailsVerificationIsFetchedAgainFromTheStart() throws {
        let fixture = try makeFixture()
        try fixture.writePartial("100.dat", Data(repeating: 0xAB, count: 5_000))
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(run.error)
        XCTAssertEqual(
            fixture.server.requests(for: "100.dat").map(\.range), ["bytes=5000-", nil],
            "resumed first, then fetched whole")
        XCTAssertEqual(try fixture.outputData("100.dat"), try fixture.sourceData("100.dat"))
    }

    func testAServerThatIgnoresRangeSendsTheWholeFileAgain() throws {
        let fixture = try makeFixture()
        fixture.server.ignoreRange()
        let source = try fixture.sourceData("100.dat")
        try fixture.writePartial("100.dat", source.prefix(4_000))
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(run.error)
        XCTAssertEqual(fixture.server.requests(for: "100.dat").map(\.range), ["bytes=4000-"])
        XCTAssertEqual(try fixture.outputData("100.dat"), source)
    }

    func testANotFoundFileFailsNamingItsURL() throws {
        let fixture = try makeFixture()
        fixture.server.respondNotFound("102.atr")
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertEqual(run.error, "cannot fetch \(fixture.server.base)102.atr: HTTP 404 Not Found")
        XCTAssertEqual(fixture.server.requests(for: "102.atr").count, 1, "a 404 is not retried")
    }

    func testAMissingRecordsFileFails() throws {
        let fixture = try makeFixture()
        fixture.server.respondNotFound("RECORDS")
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertEqual(run.error, "no RECORDS in the source \(fixture.server.base)")
    }

    func testAFileWithoutASumFailsBeforeAnythingIsDownloaded() throws {
        let fixture = try makeFixture()
        let sums = try fixture.sourceText("SHA256SUMS.txt").split(separator: "\n").filter { !$0.hasSuffix("101.atr") }
        try fixture.writeSource("SHA256SUMS.txt", sums.joined(separator: "\n") + "\n")
        let run = try fixture.runStage(source: fixture.server.base)
        XCTAssertEqual(
            run.error, "\(fixture.server.base)SHA256SUMS.txt has no SHA-256 sum for 101.atr, so it cannot be verified")
        XCTAssertEqual(fixture.server.requests.map(\.path), ["RECORDS", "SHA256SUMS.txt"])
    }

    func testAnUnreachableServerFailsNamingTheURL() throws {
        let fixture = try makeFixture()
        let base = fixture.server.base
        fixture.server.stop()
        fixture.serverStopped = true
        let run = try fixture.runStage(source: base, stage: FetchStage(environment: [:], attempts: 2, retryDelay: 0))
        let message = try XCTUnwrap(run.error)
        XCTAssertTrue(message.hasPrefix("cannot fetch \(base)RECORDS: cannot connect to 127.0.0.1"), message)
    }

    func testRecordsAndExtensionsParamsChooseTheFiles() throws {
        let fixture = try makeFixture()
        let run = try fixture.runStage(source: fixture.server.base, records: "[101, 100]", extensions: "[hea, .atr]")
        XCTAssertNil(run.error)
        XCTAssertEqual(
            try fixture.outputListing(), ["100.atr", "100.hea", "101.atr", "101.hea", "RECORDS", "SHA256SUMS"])
        XCTAssertEqual(try fixture.outputText("RECORDS"), "101\n100\n")

        try fixture.resetOutput()
        let unknown = try fixture.runStage(source: fixture.server.base, records: "[100, 999]")
        XCTAssertEqual(unknown.error, "record '999' is not listed in \(fixture.server.base)RECORDS")
    }

    // MARK: Local directories and the environment

    func testALocalDirectoryIsCopiedAndVerifiedWithTheSameResultAsHTTP() throws {
        let fixture = try makeFixture()
        let viaHTTP = try fixture.runStage(source: fixture.server.base)
        XCTAssertNil(viaHTTP.error)
        let httpManifest = try fixture.outputManifest()
        try fixture.resetOutput()
        try fixture.renameSource("SHA256SUMS.txt", to: "SHA256SUMS")  // the name of the shared local copy
        let local = try fixture.runStage(source: fixture.sourceDirectory.path)
        XCTAssertNil(local.error)
        XCTAssertEqual(try fixture.outputManifest(), httpManifest, "the output does not depend on the source")
        XCTAssertTrue(local.lines.contains { $0.hasPrefix("3 records, 9 files, ") && $0.hasSuffix(" to fetch") })
        XCTAssertTrue(local.progress.last?.contains(" / ") == true, "a local source has a known total")
    }

    func testADamagedFileInALocalDirectoryFailsAndIsNotCopied() throws {
        let fixture = try makeFixture()
        var data = try fixture.sourceData("102.hea")
        data.append(contentsOf: Array("# edited\n".utf8))
        try fixture.writeSource("102.hea", data)
        let run = try fixture.runStage(source: fixture.sourceDirectory.path)
        let message = try XCTUnwrap(run.error)
        XCTAssertTrue(
            message.hasPrefix("SHA-256 mismatch for 102.hea (from \(fixture.sourceDirectory.path)/102.hea)"), message)
        XCTAssertTrue(message.contains(Digest.of(data).hex), message)
        XCTAssertEqual(try fixture.outputListing().filter { $0.contains("102.hea") }, [])
    }

    func testPIPEMITDBSOURCEOverridesTheSourceParamAndIsLogged() throws {
        let fixture = try makeFixture()
        let stage = FetchStage(environment: ["PIPE_MITDB_SOURCE": fixture.sourceDirectory.path])
        let run = try fixture.runStage(source: "https://example.invalid/mitdb/", stage: stage)
        XCTAssertNil(run.error)
        XCTAssertTrue(
            run.lines.contains {
                $0
                    == "source \(fixture.sourceDirectory.path) (from PIPE_MITDB_SOURCE, which overrides the source param)"
            }, "\(run.lines)")
        XCTAssertEqual(fixture.server.requests, [])
    }

    func testASourceThatIsNeitherAURLNorADirectoryFails() throws {
        let fixture = try makeFixture()
        let run = try fixture.runStage(source: "no/such/dir")
        XCTAssertTrue(
            run.error?.hasPrefix("stages param 'source': 'no/such/dir' is neither an http(s) URL nor a directory")
                == true, "\(run.error ?? "")")
    }

    // MARK: Through the engine

    func testReproRunsTheStageThenFindsItUpToDate() throws {
        let fixture = try makeFixture()
        let workspace = fixture.workspace
        try fixture.writeWorkspaceFile(
            "pipeline.yaml", "stages:\n  fetch:\n    uses: ecg.fetch\n    outs: [data/mitdb]\n")
        try fixture.writeWorkspaceFile(
            "stages/fetch.yaml", "source: \(fixture.server.base)\nrecords: null\nextensions: [hea, dat, atr]\n")
        let registry = StageRegistry([FetchStage(environment: [:], retryDelay: 0)])
        let engine = Workspace(root: workspace, registry: registry)
        let observer = LineObserver()
        let first = try engine.repro(ReproOptions(), observer: observer)
        XCTAssertEqual(first.stages(.ran), ["fetch"], "\(observer.lines)")
        XCTAssertTrue(observer.lines.contains { $0.hasPrefix("fetched 3 records, 9 files") }, "\(observer.lines)")
        let locked = try XCTUnwrap(engine.loadLock().stages["fetch"]?.outputs.first)
        XCTAssertEqual(locked.path, "data/mitdb")
        XCTAssertEqual(locked.fileCount, 11)
        XCTAssertEqual(try fixture.outputData("100.dat"), try fixture.sourceData("100.dat"))

        let second = try engine.repro(ReproOptions(), observer: LineObserver())
        XCTAssertEqual(second.stages(.skipped), ["fetch"])
        XCTAssertEqual(second.count(.ran), 0)
    }

    func testTwoStagesFetchingFromOneSourceAtOnceDoNotShareAPartialFile() throws {
        let fixture = try makeFixture()
        try fixture.writeWorkspaceFile(
            "pipeline.yaml",
            """
            stages:
              fetch:
                uses: ecg.fetch
                outs: [data/mitdb]
              fetch_again:
                uses: ecg.fetch
                outs: [data/copy]

            """)
        let params = "source: \(fixture.server.base)\nrecords: null\nextensions: [hea, dat, atr]\n"
        try fixture.writeWorkspaceFile("stages/fetch.yaml", params)
        try fixture.writeWorkspaceFile("stages/fetch_again.yaml", params)
        let engine = Workspace(
            root: fixture.workspace, registry: StageRegistry([FetchStage(environment: [:], retryDelay: 0)]))
        var options = ReproOptions()
        options.jobs = 2
        let observer = LineObserver()
        let summary = try engine.repro(options, observer: observer)
        XCTAssertEqual(summary.stages(.ran).sorted(), ["fetch", "fetch_again"], "\(observer.lines)")
        let lock = try engine.loadLock()
        XCTAssertEqual(
            lock.stages["fetch"]?.outputs.first?.digest, lock.stages["fetch_again"]?.outputs.first?.digest)
    }
}

/// A source database of three small records (written with the WFDB writer), served over loopback HTTP, and a
/// workspace whose `data/mitdb` receives the fetch.
private final class FetchFixture {
    let sourceDirectory: URL
    let workspace: URL
    let server: LoopbackHTTPServer
    var serverStopped = false
    let records = ["100", "101", "102"]
    var databaseFiles: [String] { records.flatMap { ["\($0).hea", "\($0).dat", "\($0).atr"] } }

    init() throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("fetch-test-\(UUID().uuidString)")
        sourceDirectory = temporary.appendingPathComponent("physionet/files/mitdb/1.0.0")
        workspace = temporary.appendingPathComponent("workspace")
        try FileManager.default.createDirectory(at: sourceDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        server = try LoopbackHTTPServer(root: sourceDirectory)
        for (index, record) in records.enumerated() { try Self.writeRecord(record, seed: index, in: sourceDirectory) }
        try writeSource("RECORDS", records.map { $0 + "\n" }.joined())
        var sums = ""
        for file in databaseFiles { sums += "\(try sourceDigest(file).hex)  \(file)\n" }
        try writeSource("SHA256SUMS.txt", sums)
    }

    func cleanUp() {
        if !serverStopped { server.stop() }
        try? FileManager.default.removeItem(at: workspace.deletingLastPathComponent())
    }

    /// Two signals in format 212, 12,000 frames (36 kB of samples), and a beat annotation every 300 samples.
    private static func writeRecord(_ name: String, seed: Int, in directory: URL) throws {
        let frames = 12_000
        let first = (0..<frames).map { Int32((($0 * 37 + seed * 101) % 2_000) - 1_000) }
        let second = (0..<frames).map { Int32((($0 * 53 + seed * 7) % 1_500) - 700) }
        let header = RecordHeader(
            name: name,
            signals: [
                SignalSpec(fileName: "\(name).dat", format: .packed212, description: "MLII"),
                SignalSpec(fileName: "\(name).dat", format: .packed212, description: "V5"),
            ],
            samplingFrequency: 360, sampleCount: frames)
        try RecordWriter.write(header, samples: [first, second], directory: directory.path)
        let beats = stride(from: 150, to: frames, by: 300).map { Annotation(sample: $0, code: 1) }
        try AnnotationFile.write(beats, record: RecordLocation(directory: directory.path, name: name))
    }

    struct Run {
        var error: String?
        var lines: [String]
        var progress: [String]
    }

    /// Runs the stage directly with `stages/fetch.yaml`-style params; `records` and `extensions` are YAML.
    func runStage(
        source: String, records: String = "null", extensions: String = "[hea, dat, atr]",
        stage: FetchStage = FetchStage(environment: [:], attempts: 3, retryDelay: 0)
    ) throws -> Run {
        var values: [ParamReference: CanonicalValue] = [:]
        for (key, yaml) in [("source", source), ("records", records), ("extensions", extensions)] {
            let reference = ParamReference(
                file: "stages/fetch.yaml", key: key,
                location: SourceLocation(file: "stages/fetch.yaml", line: 1, column: 1))
            values[reference] = try ParamOverride(parsing: "fetch.\(key)=\(yaml)").value
        }
        let collected = Collected()
        let context = StageContext(
            stageName: "fetch", workspace: workspace, params: ResolvedParams(values: values, overridden: []),
            deps: [], outputs: ["data/mitdb"], emitLine: collected.line, emitProgress: collected.progressLine,
            emitMetrics: { _, _ in })
        var error: String?
        do { try stage.run(context) } catch let failure as StageFailure { error = failure.message }
        return Run(error: error, lines: collected.lines, progress: collected.progress)
    }

    var output: URL { workspace.appendingPathComponent("data/mitdb") }

    func outputData(_ file: String) throws -> Data { try Data(contentsOf: output.appendingPathComponent(file)) }
    func outputText(_ file: String) throws -> String { String(decoding: try outputData(file), as: UTF8.self) }
    func outputExists(_ file: String) -> Bool { FileStat.at(output.appendingPathComponent(file).path) != nil }
    func outputListing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
    }
    func outputManifest() throws -> DirectoryManifest {
        try ContentHasher(root: workspace, statCache: StatCache()).manifest(directory: "data/mitdb")
    }
    func resetOutput() throws { try FileManager.default.removeItem(at: output) }

    func sourceData(_ file: String) throws -> Data {
        try Data(contentsOf: sourceDirectory.appendingPathComponent(file))
    }
    func sourceText(_ file: String) throws -> String { String(decoding: try sourceData(file), as: UTF8.self) }
    func sourceDigest(_ file: String) throws -> Digest { Digest.of(try sourceData(file)) }
    func writeSource(_ file: String, _ text: String) throws { try writeSource(file, Data(text.utf8)) }
    func writeSource(_ file: String, _ data: Data) throws {
        try data.write(to: sourceDirectory.appendingPathComponent(file))
    }
    func renameSource(_ file: String, to name: String) throws {
        try FileManager.default.moveItem(
            at: sourceDirectory.appendingPathComponent(file), to: sourceDirectory.appendingPathComponent(name))
    }

    func writeWorkspaceFile(_ path: String, _ text: String) throws {
        let url = workspace.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// Where the stage keeps a partial download of `file` from the loopback server.
    func partialURL(_ file: String) -> URL {
        workspace.appendingPathComponent(".cache/downloads/127.0.0.1_\(server.port)/\(file)")
    }

    func writePartial(_ file: String, _ data: Data) throws {
        let url = partialURL(file)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    /// Files under `.cache/downloads`, relative to the server's folder, without the folder's lock file.
    func partialFiles() throws -> [String] {
        let folder = partialURL("").path
        guard FileStat.at(folder) != nil else { return [] }
        return try FileManager.default.subpathsOfDirectory(atPath: folder).filter {
            $0 != ".lock" && FileStat.at(folder + "/" + $0)?.kind == .file
        }.sorted()
    }
}

/// Lines and progress frames a stage emitted, from any thread.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var storedLines: [String] = []
    private var storedProgress: [String] = []

    var lines: [String] { locked { storedLines } }
    var progress: [String] { locked { storedProgress } }

    func line(_ text: String) { locked { storedLines.append(text) } }
    func progressLine(_ text: String) { locked { storedProgress.append(text) } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

/// A repro observer that keeps the stages' lines.
private final class LineObserver: ReproObserver, @unchecked Sendable {
    private let collected = Collected()
    var lines: [String] { collected.lines }

    func stageStarted(_ stage: String, reason: StageReason) {}
    func stageOutput(_ stage: String, line: String) { collected.line(line) }
    func stageMetrics(_ stage: String, values: [String: Double], step: Int) {}
    func stageFinished(_ result: StageResult) {}
    func warning(_ text: String) {}
}
