import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 20, item 9: a full disk. Each test gets a small file system of its own (a loop-mounted ext4 image, or a
/// tmpfs where loop devices are not allowed), fills it for real and checks what the binary does there.
final class DiskFullTests: XCTestCase {
    private var harness: BinaryHarness!
    private var mountPoint: URL!
    private var workspace: URL!
    private var fillers = 0

    override func setUpWithError() throws {
        harness = try BinaryHarness()
        mountPoint = harness.root.appendingPathComponent("mnt")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        try mountSmallFileSystem()
        workspace = mountPoint.appendingPathComponent("ws")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let mountPoint, (try? command("/bin/umount", [mountPoint.path])) != 0 {
            _ = try? command("/bin/umount", ["-l", mountPoint.path])
        }
        harness = nil
    }

    /// 20 MB of ext4 without reserved blocks (root could otherwise write past "full"), else an 8 MB tmpfs. Blocks of
    /// 4 KiB, as on any real disk: mkfs picks 1 KiB for so small a file system, and SQLite allocates its mapped
    /// `-shm` index by writing one byte per 4 KiB page, which then leaves holes that a full disk cannot fill (a
    /// SIGBUS inside SQLite, seen only on such a file system).
    private func mountSmallFileSystem() throws {
        guard getuid() == 0 else { throw XCTSkip("item 9 needs root to mount a small file system") }
        let image = harness.root.appendingPathComponent("disk.img")
        if (try? command("/usr/bin/truncate", ["-s", "20M", image.path])) == 0,
            (try? command("/sbin/mkfs.ext4", ["-q", "-m", "0", "-b", "4096", image.path])) == 0,
            (try? command("/bin/mount", ["-o", "loop", image.path, mountPoint.path])) == 0
        {
            return
        }
        guard (try? command("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint.path])) == 0 else {
            mountPoint = nil
            throw XCTSkip("item 9 needs a small file system: neither a loop-mounted ext4 image nor a tmpfs mounts here")
        }
    }

    @discardableResult
    private func command(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private var availableBytes: Int64 {
        var info = statvfs()
        guard statvfs(mountPoint.path, &info) == 0 else { return 0 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Takes the file system's free space with allocated (not sparse) filler files until `leaving` bytes are left;
    /// with 0, then writes until the file system refuses.
    private func fill(leaving: Int64) throws {
        fillers += 1
        let path = mountPoint.appendingPathComponent("filler-\(fillers)").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw XCTSkip("cannot create \(path)") }
        defer { close(fd) }
        // Leave room for the filler's own extent blocks; the writes below take the rest.
        let size = availableBytes - (leaving == 0 ? 65536 : leaving)
        if size > 0 { XCTAssertEqual(posix_fallocate(fd, 0, off_t(size)), 0, "fallocate \(size) bytes") }
        guard leaving == 0 else { return }
        let block = [UInt8](repeating: 0, count: 4096)
        lseek(fd, 0, SEEK_END)
        while write(fd, block, block.count) > 0 {}
    }

    private func freeFillers() {
        for index in 0...fillers {
            unlink(mountPoint.appendingPathComponent("filler-\(index)").path)
        }
    }

    private func pipe(_ arguments: [String]) throws -> BinaryHarness.Output {
        try harness.run(arguments, in: workspace)
    }

    /// Every file under the workspace whose name says it is one of pipe's temporaries.
    private func temporaries() -> [String] {
        let all = FileManager.default.subpaths(atPath: workspace.path) ?? []
        return all.filter { path in
            let name = (path as NSString).lastPathComponent
            return path.hasPrefix(".cache/tmp/") || name.contains(".tmp-") || name.contains(".pipe-tmp-")
        }
    }

    func testItem9_AnOutputTheCacheHasNoRoomForFailsNamingItAndTheSpaceAndLeavesNoTemporary() throws {
        try harness.write(
            "pipeline.yaml", "stages:\n  a:\n    cmd: head -c 400000 /dev/urandom > o\n    outs: [o]\n", in: workspace)
        XCTAssertEqual(try pipe(["status"]).status, 0)
        // Room for the 400 kB output and the run store's own writes (its log grows by a few hundred kB while the
        // run is recorded), but not for the output's copy in the cache as well.
        try fill(leaving: 760_000)
        let output = try pipe(["repro"])
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(
            output.stderr.contains("\(workspace.path)/o: no space left on device: it needs 400.0 kB"), output.stderr)
        XCTAssertTrue(output.stderr.contains(" free; free some space and run again"), output.stderr)
        XCTAssertEqual(temporaries(), [], "nothing left in .cache/tmp or beside the outputs")

        freeFillers()
        let again = try pipe(["repro"])
        XCTAssertEqual(again.status, 0, "with space back, the next repro needs no cleanup: \(again.stderr)")
        XCTAssertEqual(try pipe(["status", "--check"]).status, 0)
    }

    func testItem9_ReadOnlyCommandsWorkOnAFullDisk() throws {
        try harness.write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: if [ -e slow ]; then touch started && sleep 30; fi; echo > o\n    outs: [o]\n",
            in: workspace)
        XCTAssertEqual(try pipe(["repro"]).status, 0)
        // A second run killed mid-stage: the next store opening would mark it interrupted, which is a write.
        try harness.write("slow", "", in: workspace)
        let (killed, _, _) = try harness.start(["repro", "--force"], in: workspace)
        try harness.waitForFile("mnt/ws/started")
        let children = try harness.read(".cache/children", in: workspace)
        kill(killed.processIdentifier, SIGKILL)
        if let group = children.split(separator: " ").first.flatMap({ pid_t($0) }) { kill(-group, SIGKILL) }
        killed.waitUntilExit()
        try fill(leaving: 0)
        XCTAssertLessThan(availableBytes, 4096)

        let list = try pipe(["runs", "list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(
            list.stdout.components(separatedBy: "\n").filter { $0.contains("running") }.count, 1, list.stdout)
        XCTAssertTrue(list.stdout.contains("succeeded"), list.stdout)
        for command in [["runs", "show", "@last"], ["runs", "diff", "@last~1", "@last"], ["status"]] {
            let output = try pipe(command)
            XCTAssertEqual(output.status, 0, "\(command): \(output.stderr)")
            XCTAssertFalse(output.stderr.contains("disk is full"), "\(command): \(output.stderr)")
        }

        let repro = try pipe(["repro"])
        XCTAssertNotEqual(repro.status, 0)
        XCTAssertTrue(repro.stderr.contains("runs/pipe.sqlite: the disk is full ("), repro.stderr)
        XCTAssertTrue(
            repro.stderr.contains(" kB free on its file system); free some space and run again"), repro.stderr)

        freeFillers()
        let later = try pipe(["runs", "list"])
        XCTAssertTrue(later.stdout.contains("interrupted"), "marked once a write is possible: \(later.stdout)")
    }

    func testItem9_AStageThatPrintsOnAFullDiskFailsWithoutCrashing() throws {
        // The stage fills the disk and then prints: its log cannot grow, and FileHandle's old non-throwing write
        // trapped there (exit 4) instead of the stage failing on its own full disk.
        try harness.write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: head -c 50000000 /dev/zero > filler 2>/dev/null; echo one line >&2; echo >o\n"
                + "    outs: [o]\n", in: workspace)
        try fill(leaving: 760_000)
        let output = try pipe(["repro"])
        XCTAssertEqual(output.status, 1, output.stdout + output.stderr)
        XCTAssertTrue(output.stdout.contains("one line"), output.stdout)
        XCTAssertEqual(temporaries(), [])
    }
}
