import EdgeCore
import XCTest

final class PullScheduleTests: XCTestCase {
  func testBackoffDoublesToTheCapWithEqualJitter() {
    XCTAssertEqual(PullSchedule.backoffMs(failures: 1, random: 0), 500)
    XCTAssertEqual(PullSchedule.backoffMs(failures: 2, random: 0), 1000)
    XCTAssertEqual(PullSchedule.backoffMs(failures: 3, random: UInt32.max), 3999)
    XCTAssertEqual(PullSchedule.backoffMs(failures: 40, random: 0), 150_000)
    XCTAssertLessThanOrEqual(PullSchedule.backoffMs(failures: 40, random: UInt32.max), 300_000)
  }

  func testJitterStaysWithinTenPercent() {
    XCTAssertEqual(PullSchedule.jittered(10_000, random: 0), 9_000)
    XCTAssertLessThan(PullSchedule.jittered(10_000, random: UInt32.max), 11_000)
  }

  func testSplayIsDeterministicAndSpread() {
    XCTAssertEqual(PullSchedule.splay(hostID: "a", intervalMs: 60_000), PullSchedule.splay(hostID: "a", intervalMs: 60_000))
    var buckets = [Int](repeating: 0, count: 10)
    for i in 0..<1000 { buckets[Int(PullSchedule.splay(hostID: "host-\(i)", intervalMs: 10))] += 1 }
    for b in buckets { XCTAssertGreaterThan(b, 60) }
  }

  func testRendezvousRankingSpreadsAndIsStable() {
    let relays = (0..<10).map { "http://127.0.0.1:\(7000 + $0)" }
    var firsts = [Int](repeating: 0, count: 10)
    for i in 0..<1000 { firsts[PullSchedule.rank(relays, hostID: "h\(i)")[0]] += 1 }
    for f in firsts { XCTAssertGreaterThan(f, 50) }
    // Removing a relay moves only the hosts that ranked it first.
    var moved = 0
    for i in 0..<1000 {
      let before = relays[PullSchedule.rank(relays, hostID: "h\(i)")[0]]
      let fewer = Array(relays.dropLast())
      let after = fewer[PullSchedule.rank(fewer, hostID: "h\(i)")[0]]
      if before != after { moved += 1; XCTAssertEqual(before, relays.last) }
    }
    XCTAssertEqual(moved, firsts[9])
  }
}
