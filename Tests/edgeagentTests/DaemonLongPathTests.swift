import Foundation
import XCTest

/// `edgeagent run` managing a file whose root + path is past LMDB's 511-byte key limit: every
/// interval converges and records (the stat cache key was root + path: MDB_BAD_VALSIZE after
/// the file was written, then "unable to record outcomes" on every interval).
final class DaemonLongPathTests: XCTestCase {
  func testEveryIntervalIsRecordedWithAPathPastTheKeyLimit() throws {
    let run = try AgentRun.make(self)
    var path = ""
    while path.utf8.count < 600 { path += "/" + String(repeating: "p", count: 150) }
    XCTAssertGreaterThan(run.root.utf8.count + path.utf8.count, 511)
    try run.writePolicy("long", [
      "{\"id\": \"long\", \"type\": \"file\", \"path\": \"\(path)\", \"content\": \"x\\n\"}",
    ])
    try run.start(["--interval", "200ms"])
    XCTAssertTrue(run.waitForLog("msg=converged", count: 4, timeout: 30), "fewer than 4 convergences:\n\(run.log)")
    XCTAssertFalse(run.log.contains("unable to record"), run.log)
    XCTAssertEqual(try String(contentsOfFile: run.root + path, encoding: .utf8), "x\n")
  }
}
