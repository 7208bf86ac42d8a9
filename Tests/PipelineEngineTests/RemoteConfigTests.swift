import Foundation
import XCTest

@testable import PipelineEngine

/// The `remotes:` section: validation with file:line:col, and `pipe remote add/remove` edits that leave every
/// other byte of pipeline.yaml alone.
final class RemoteConfigTests: XCTestCase {
    let base = """
        # The team's pipeline. Comments and layout must survive remote edits.
        stages:
          a:
            cmd: echo a > a.txt   # a trailing comment
            outs: [a.txt]

        # cache settings
        cache: {link: copy}

        """

    func parse(_ text: String) throws -> PipelineDefinition {
        try PipelineParser(file: "pipeline.yaml", registry: StageRegistry()).parse(text)
    }

    func editor(_ text: String) -> RemoteSectionEditor {
        RemoteSectionEditor(text: text, file: "pipeline.yaml", registry: StageRegistry())
    }

    func remote(_ name: String, _ url: String, endpoint: String? = nil, region: String? = nil) -> RemoteDefinition {
        RemoteDefinition(
            name: name, url: url, endpoint: endpoint, region: region,
            location: SourceLocation(file: "pipeline.yaml", line: 0, column: 0))
    }

    func testRemotesAndTheDefaultAreParsed() throws {
        let definition = try parse(
            base + """
                remotes:
                  storage:
                    url: s3://team-bucket/ecg
                    endpoint: http://127.0.0.1:9000
                    region: eu-west-1
                  shared: {url: /mnt/team/pipe-cache}
                default_remote: storage

                """)
        XCTAssertEqual(definition.remotes.map(\.name), ["storage", "shared"])
        XCTAssertEqual(definition.remote(named: "storage")?.endpoint, "http://127.0.0.1:9000")
        XCTAssertEqual(definition.remote(named: "storage")?.region, "eu-west-1")
        XCTAssertEqual(definition.remote(named: "shared")?.isS3, false)
        XCTAssertEqual(definition.defaultRemote, "storage")
    }

    func assertInvalid(
        _ yaml: String, line: Int, contains text: String, file: StaticString = #filePath, at: UInt = #line
    ) {
        XCTAssertThrowsError(try parse(base + yaml), file: file, line: at) { error in
            guard let error = error as? PipelineError else { return XCTFail("\(error)", file: file, line: at) }
            XCTAssertEqual(error.location?.line, line, "\(error)", file: file, line: at)
            XCTAssertTrue(error.description.contains(text), error.description, file: file, line: at)
        }
    }

    func testBadRemotesNameFileLineAndWhatIsWrong() {
        assertInvalid("remotes:\n  s:\n    url: s3://ab/x\n", line: 11, contains: "3 to 63 lowercase")
        assertInvalid("remotes:\n  s:\n    url: ftp://host/x\n", line: 11, contains: "unsupported scheme 'ftp'")
        assertInvalid("remotes:\n  s:\n    region: eu\n", line: 10, contains: "missing 'url'")
        assertInvalid(
            "remotes:\n  s:\n    url: s3://bucket\n    endpoint: localhost\n", line: 12, contains: "not an http")
        assertInvalid("remotes:\n  s:\n    url: s3://bucket\n    regoin: x\n", line: 12, contains: "regoin")
        assertInvalid(
            "remotes:\n  s:\n    url: s3://bucket\n    secret_access_key: abc\n", line: 12,
            contains: "credentials never go in pipeline.yaml")
        assertInvalid(
            "remotes:\n  s:\n    url: s3://bucket\ndefault_remote: t\n", line: 12, contains: "unknown remote 't'")
    }

    func testAddingToAFileWithoutRemotesAppendsTheSectionAndKeepsEveryOtherByte() throws {
        var edit = editor(base)
        try edit.add(
            remote("storage", "s3://team-bucket/ecg", endpoint: "http://127.0.0.1:9000"), makeDefault: true,
            replace: false)
        XCTAssertEqual(
            edit.text,
            base + """

                remotes:
                  storage:
                    url: s3://team-bucket/ecg
                    endpoint: http://127.0.0.1:9000
                default_remote: storage

                """)
        XCTAssertEqual(try parse(edit.text).defaultRemote, "storage")
    }

    func testAddingASecondRemoteInsertsItAtTheEndOfTheSectionWithItsIndentation() throws {
        let start = """
            stages:
                a:
                    cmd: echo
            remotes:
                first:
                    url: /srv/cache   # shared drive
            # what follows belongs to cache
            cache: {link: copy}

            """
        var edit = editor(start)
        try edit.add(remote("second", "file:///mnt/x y"), makeDefault: false, replace: false)
        XCTAssertEqual(
            edit.text,
            """
            stages:
                a:
                    cmd: echo
            remotes:
                first:
                    url: /srv/cache   # shared drive
                second:
                    url: "file:///mnt/x y"
            # what follows belongs to cache
            cache: {link: copy}

            """)
        XCTAssertEqual(try parse(edit.text).remote(named: "second")?.url, "file:///mnt/x y")
    }

    func testAddingAnExistingNameNeedsReplace() throws {
        var edit = editor(base + "remotes:\n  s:\n    url: /a\n")
        XCTAssertThrowsError(try edit.add(remote("s", "/b"), makeDefault: false, replace: false))
        try edit.add(remote("s", "/b"), makeDefault: false, replace: true)
        XCTAssertEqual(edit.text, base + "remotes:\n  s:\n    url: /b\n")
    }

    func testRemovingRestoresTheFileByteForByte() throws {
        var edit = editor(base)
        try edit.add(remote("one", "/one"), makeDefault: false, replace: false)
        let withOne = edit.text
        try edit.add(remote("two", "s3://bucket-two/p", region: "us-east-2"), makeDefault: true, replace: false)
        try edit.remove("two")
        XCTAssertEqual(edit.text, withOne, "removing the default also removes default_remote")
        try edit.remove("one")
        XCTAssertEqual(edit.text, base)
        XCTAssertThrowsError(try edit.remove("one")) { error in
            XCTAssertTrue("\(error)".contains("unknown remote 'one'"), "\(error)")
        }
    }

    func testAFlowStyleSectionIsRefusedNotMangled() throws {
        var edit = editor(base + "remotes: {s: {url: /a}}\n")
        XCTAssertThrowsError(try edit.add(remote("t", "/b"), makeDefault: false, replace: false)) { error in
            XCTAssertTrue("\(error)".contains("flow style"), "\(error)")
        }
        XCTAssertEqual(edit.text, base + "remotes: {s: {url: /a}}\n")
    }
}
