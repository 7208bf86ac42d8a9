import Tracking
import XCTest

@testable import Experiments

/// How a Slurm job's final state closes the run it opened, whatever the job managed to record itself.
final class JobStateTests: XCTestCase {
    private func job(_ state: String) -> JobState { JobState(id: "7", state: state, reason: nil) }

    func testACancelledJobsRunIsInterruptedEvenWhenTheJobClosedItAsFailed() {
        // scancel's SIGTERM reached the stage's command before pipe's handler: the stage failed, then the job died.
        XCTAssertEqual(job("CANCELLED").correctedStatus(recorded: .failed), .interrupted)
        XCTAssertEqual(job("CANCELLED").correctedStatus(recorded: .running), .interrupted)
        XCTAssertEqual(job("PREEMPTED").correctedStatus(recorded: .succeeded), .interrupted)
        XCTAssertNil(job("CANCELLED").correctedStatus(recorded: .interrupted), "already right: left alone")
    }

    func testAJobOverItsTimeOrFailedIsAFailedRunEvenWhenMarkedInterrupted() {
        // Another process opening the store marks a run interrupted once its job's process is gone.
        XCTAssertEqual(job("TIMEOUT").correctedStatus(recorded: .interrupted), .failed)
        XCTAssertEqual(job("TIMEOUT").correctedStatus(recorded: .running), .failed)
        XCTAssertEqual(job("NODE_FAIL").correctedStatus(recorded: .succeeded), .failed)
        XCTAssertNil(job("FAILED").correctedStatus(recorded: .failed))
    }

    func testACompletedJobKeepsWhatItsRunRecordedAndClosesARunLeftOpen() {
        XCTAssertNil(job("COMPLETED").correctedStatus(recorded: .succeeded))
        XCTAssertNil(job("COMPLETED").correctedStatus(recorded: .failed), "the run's own word: a stage failed")
        XCTAssertEqual(job("COMPLETED").correctedStatus(recorded: .running), .succeeded)
    }

    func testAJobNeitherSqueueNorSacctKnowsIsFinalAndFailed() {
        // Without accounting, a job purged from squeue is reported UNKNOWN: following it must end, not poll forever.
        let lost = job(JobState.lost)
        XCTAssertTrue(lost.isFinal)
        XCTAssertFalse(lost.succeeded)
        XCTAssertEqual(lost.runStatus, .failed)
        XCTAssertEqual(lost.correctedStatus(recorded: .running), .failed)
    }
}
