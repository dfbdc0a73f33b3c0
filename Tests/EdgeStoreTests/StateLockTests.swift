import Foundation
import XCTest
@testable import EdgeStore

final class StateLockTests: XCTestCase {
  var tmp: TemporaryDirectory!

  override func setUpWithError() throws { tmp = try TemporaryDirectory() }
  override func tearDown() { tmp.remove() }

  func testOneHolderAtATimeAndTheRefusedOneNamesIt() throws {
    let dir = tmp.path + "/var/lib/edgeagent"
    XCTAssertNil(StateLock.holder(stateDir: dir), "no state: no holder, and nothing is created")
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir))
    let lock = try StateLock(stateDir: dir)
    XCTAssertEqual(try tmp.permissions("var/lib/edgeagent"), 0o700)
    XCTAssertEqual(try tmp.permissions("var/lib/edgeagent/edgeagent.lock"), 0o600)
    XCTAssertEqual(StateLock.holder(stateDir: dir), getpid())
    // A second taker (another open file: the same as another process for these locks) is refused.
    do {
      _ = try StateLock(stateDir: dir)
      XCTFail("a second lock was granted")
    } catch {
      guard case .held(let path, let pid) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(path, dir)
      XCTAssertEqual(pid, getpid())
      XCTAssertEqual(error.description, "state dir \(dir) is held by pid \(getpid()) (one daemon or apply per state directory)")
    }
    lock.release()
    XCTAssertNil(StateLock.holder(stateDir: dir), "a stale pid in the file is not a holder")
    let again = try StateLock(stateDir: dir)
    XCTAssertEqual(StateLock.holder(stateDir: dir), getpid())
    again.release()
  }

  /// The lock's fd is close-on-exec: a service or command started while the agent held it
  /// does not keep the state locked after the agent is gone.
  func testAChildStartedWhileHeldDoesNotHoldIt() throws {
    let dir = tmp.path + "/s"
    let lock = try StateLock(stateDir: dir)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sleep")
    p.arguments = ["5"]
    try p.run()
    defer { p.terminate(); p.waitUntilExit() }
    lock.release()
    XCTAssertNil(StateLock.holder(stateDir: dir))
    XCTAssertNoThrow(try StateLock(stateDir: dir).release())
  }

  func testHolderLookupTakesNoLock() throws {
    let dir = tmp.path + "/s"
    try StateLock(stateDir: dir).release()
    for _ in 0..<100 { XCTAssertNil(StateLock.holder(stateDir: dir)) }
    let lock = try StateLock(stateDir: dir)
    for _ in 0..<100 { XCTAssertEqual(StateLock.holder(stateDir: dir), getpid()) }
    lock.release()
  }
}
