#if EDGE_MOCKING
import Foundation
import XCTest
@testable import EdgeHost

/// The seam itself: an injection fails the calls it names, on the thread that armed it, as many
/// times as asked and after the calls it lets through; the test clock reads what was set.
final class MockingTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }

  override func tearDown() {
    SyscallFailures.reset()
    TestClock.reset()
    base.remove()
  }

  func testAnInjectionFailsOnlyTheCallItNamesAsOftenAsAsked() throws {
    SyscallFailures.inject(.noSpace, into: .open, after: 1, times: 2)
    XCTAssertEqual(SyscallFailures.pending, 2)
    guard case .success(let fd) = openDevNull() else { return XCTFail("the first open was let through") }
    close(fd)
    XCTAssertEqual(openDevNull(), .failure(.noSpace))
    XCTAssertEqual(openDevNull(), .failure(.noSpace))
    XCTAssertEqual(SyscallFailures.pending, 0)
    guard case .success(let again) = openDevNull() else { return XCTFail("the injection outlived its count") }
    close(again)
  }

  func testEINTRIsRetriedAndOtherErrnosAreNot() throws {
    SyscallFailures.inject(.interrupted, into: .open, times: 3)
    guard case .success(let fd) = openDevNull() else { return XCTFail("EINTR was not retried") }
    close(fd)
    XCTAssertEqual(SyscallFailures.pending, 0)
  }

  func testAnotherThreadsCallsAreNotFailed() throws {
    SyscallFailures.inject(.access, into: .open)
    let other = ResultBox()
    let done = DispatchSemaphore(value: 0)
    Thread {
      other.value = openDevNull()
      done.signal()
    }.start()
    done.wait()
    guard case .success(let fd)? = other.value else { return XCTFail("another thread's open failed: \(String(describing: other.value))") }
    close(fd)
    XCTAssertEqual(SyscallFailures.pending, 1)
    XCTAssertEqual(openDevNull(), .failure(.access))
  }

  func testResetDropsEveryInjection() throws {
    SyscallFailures.inject(.access, into: .open, times: 5)
    SyscallFailures.reset()
    XCTAssertEqual(SyscallFailures.pending, 0)
    guard case .success(let fd) = openDevNull() else { return XCTFail("a reset injection still failed") }
    close(fd)
  }

  func testTheTestClockReadsWhatWasSet() {
    TestClock.setMonotonic(nanoseconds: 5_000_000_000)
    TestClock.setWall(nanoseconds: 1_767_225_600_900_000_000)
    XCTAssertEqual(monotonicNanoseconds(), 5_000_000_000)
    XCTAssertEqual(wallClockNanoseconds(), 1_767_225_600_900_000_000)
    XCTAssertEqual(wallClockSeconds(), 1_767_225_600)
    XCTAssertEqual(isoTime(wallClockSeconds()), "2026-01-01T00:00:00Z")
    TestClock.advance(nanoseconds: 250_000_000)
    XCTAssertEqual(monotonicNanoseconds(), 5_250_000_000)
    XCTAssertEqual(wallClockSeconds(), 1_767_225_601)
  }

  func testWallSecondsBeforeTheEpochRoundDown() {
    TestClock.setWall(nanoseconds: -1)
    XCTAssertEqual(wallClockSeconds(), -1, "a box without RTC may boot before 1970's first second")
    XCTAssertEqual(isoTime(wallClockSeconds()), "1969-12-31T23:59:59Z")
  }

  func testResetGivesBackTheKernelsClocks() {
    TestClock.setMonotonic(nanoseconds: 1)
    TestClock.setWall(nanoseconds: 1)
    TestClock.reset()
    XCTAssertGreaterThan(monotonicNanoseconds(), 1)
    XCTAssertGreaterThan(wallClockSeconds(), 1_700_000_000)
  }
}
private func openDevNull() -> Result<CInt, Errno> {
  valueOrErrno { system_open("/dev/null", O_RDONLY | O_CLOEXEC, 0) }
}

/// What the other thread saw; written before the semaphore is signalled, read after.
private final class ResultBox: @unchecked Sendable {
  var value: Result<CInt, Errno>? = nil
}
#endif
