import XCTest
@testable import EdgeLoop
import EdgeHost

/// A command run as a child of the loop gives what `runCommand` gives (status, last output,
/// timeout) while the loop goes on: timers fire during its run.
final class CommandChildTests: XCTestCase {
  private func run(_ script: String, timeout: Int = 0, ticks: UnsafeMutablePointer<Int>? = nil) throws -> CommandResult {
    let loop = Loop()
    let reaper = try ChildReaper(loop)
    let tick = Timer(loop)
    tick.start(after: 10, repeat: 10) { ticks?.pointee += 1 }
    var result: CommandResult? = nil
    let child = try CommandChild(loop, reaper: reaper, argv: ["/bin/sh", "-c", script], environment: ["PATH=/usr/bin:/bin"],
                                 cwd: "/", timeout: timeout) { r in
      result = r
      tick.close()
      reaper.close()
    }
    loop.run()
    withExtendedLifetime(child) {}
    return try XCTUnwrap(result)
  }

  func testStatusAndLastOutput() throws {
    let r = try run("echo one; echo two >&2; exit 3")
    XCTAssertEqual(r.status, 3)
    XCTAssertFalse(r.timedOut)
    XCTAssertEqual(String(decoding: r.outputTail, as: UTF8.self), "one\ntwo\n")
    XCTAssertEqual(r.lastLine, "two")
  }

  func testOutputIsBoundedToItsLast4KiB() throws {
    let r = try run("head -c 100000 /dev/zero | tr '\\0' a; echo; echo end")
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(r.outputTail.count, 4096)
    XCTAssertEqual(r.lastLine, "end")
  }

  /// A busy loop is a slow reader: the child fills the pipe and must wait, not fail. With the
  /// pipe's write end non-blocking, `tr` and `echo` got EAGAIN (status 1, "end" lost).
  func testAChildOutrunningABusyLoopWaitsInsteadOfFailing() throws {
    let loop = Loop()
    let reaper = try ChildReaper(loop)
    let stall = Timer(loop)
    // The loop stops reading for 300 ms, long enough for 200 KB to overrun a 64 KiB pipe.
    stall.start(after: 1) { usleep(300_000) }
    var result: CommandResult? = nil
    let child = try CommandChild(loop, reaper: reaper, argv: ["/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; echo; echo end"],
                                 environment: ["PATH=/usr/bin:/bin"], cwd: "/", timeout: 0) { r in
      result = r
      stall.close()
      reaper.close()
    }
    loop.run()
    withExtendedLifetime(child) {}
    let r = try XCTUnwrap(result)
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(r.lastLine, "end")
  }

  func testMakePipeLeavesTheChildsEndBlocking() throws {
    let (readEnd, writeEnd) = try makePipe()
    defer { closeFD(readEnd); closeFD(writeEnd) }
    XCTAssertNotEqual(fcntl(readEnd, F_GETFL) & O_NONBLOCK, 0, "the loop's end never blocks")
    XCTAssertEqual(fcntl(writeEnd, F_GETFL) & O_NONBLOCK, 0, "the child's end waits when the pipe is full")
  }

  func testTheLoopGoesOnWhileItRuns() throws {
    var ticks = 0
    let r = try run("sleep 0.3", ticks: &ticks)
    XCTAssertEqual(r.status, 0)
    XCTAssertGreaterThan(ticks, 5, "a 10 ms timer fired only \(ticks) times during a 300 ms command")
  }

  func testTimeoutKillsTheWholeGroup() throws {
    let t0 = monotonicNanoseconds()
    let r = try run("sleep 30 & sleep 30", timeout: 1)
    XCTAssertTrue(r.timedOut)
    XCTAssertEqual(r.status, -9)
    XCTAssertLessThan(monotonicNanoseconds() - t0, 10_000_000_000)
  }

  func testAMissingProgramFailsToStart() throws {
    let loop = Loop()
    let reaper = try ChildReaper(loop)
    defer { reaper.close(); loop.run() }
    XCTAssertThrowsError(try CommandChild(loop, reaper: reaper, argv: ["/nonexistent/program"], environment: [], cwd: "/", timeout: 0) { _ in })
  }
}
