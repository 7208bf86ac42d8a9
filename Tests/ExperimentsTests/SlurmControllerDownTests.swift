import Foundation
import ServiceFixtures
import XCTest

@testable import Experiments

/// Following jobs while the Slurm controller cannot be reached: the real `squeue`, given a configuration whose
/// controller port nobody listens on, fails at once with "Unable to contact slurm controller"; following must
/// give up after its timeout with that error and the open jobs named, not poll forever.
final class SlurmControllerDownTests: XCTestCase {
    func testFollowingGivesUpNamingSqueueAndTheOpenJobsWhenTheControllerIsDown() throws {
        guard SlurmExecutor.findExecutable("squeue") != nil else {
            throw XCTSkip("squeue is not installed (apt-get install -y slurm-wlm)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-down-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let conf = folder.appendingPathComponent("slurm.conf")
        try Data(
            """
            ClusterName=down
            SlurmctldHost=localhost
            SlurmctldPort=\(try LoopbackPort.unused())
            MessageTimeout=1
            AuthType=auth/none
            NodeName=localhost CPUs=1 State=UNKNOWN
            PartitionName=debug Nodes=localhost Default=YES

            """.utf8
        ).write(to: conf)
        let executor = SlurmExecutor(
            command: JobCommand(executable: "/bin/true", main: folder, sweep: "down"), options: SlurmOptions(),
            layout: SweepLayout(main: folder))
        executor.environment = ["SLURM_CONF": conf.path]
        executor.pollInterval = 0.05
        executor.controllerTimeout = 0.3
        var finished: [Int] = []
        let started = Date()
        XCTAssertThrowsError(try executor.follow([1: "41", 2: "42"]) { finished.append($0.index) }) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("squeue: failing for 0.3 s ("), text)
            XCTAssertTrue(text.contains("controller"), text)
            XCTAssertTrue(text.hasSuffix("stopped following jobs 41, 42"), text)
        }
        XCTAssertEqual(finished, [], "nothing is reported finished that Slurm did not say was")
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
    }
}
