import EdgeCore
@testable import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import Foundation
import XCTest

/// Issue 16: host reports as a relay or collector judges them. Every refusal a hostile network
/// can cause (forged, altered on the way, replayed, oversized, a key swapped under a known host
/// id, a flood, a store filled with made-up hosts) is refused with its reason and counted, and
/// nothing a refusal carries replaces a host's latest good report.
final class ReportTests: XCTestCase {
  var dir = ""
  var env: Environment! = nil

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    dir = FileManager.default.temporaryDirectory.path + "/edge16-\(UUID().uuidString)"
    env = try Environment(path: dir + "/state", optional: [.reports])
  }

  override func tearDown() {
    env = nil
    try? FileManager.default.removeItem(atPath: dir)
  }

  /// A host with its own key, making signed reports.
  struct Host {
    let id: String
    let pk: [UInt8]
    let sk: [UInt8]
    var seq: UInt64 = 0

    init(_ id: String) {
      self.id = id
      (pk, sk) = Ed25519.keypair()
    }

    func signedOnce() -> [UInt8] {
      var me = self
      return me.signed()
    }

    mutating func signed(serial: UInt64 = 7, failed: UInt32 = 0, reason: String = "", key: [UInt8]? = nil) -> [UInt8] {
      seq += 1
      var r = HostReport(hostID: id, publicKey: pk, sequence: seq, sentAt: 1_800_000_000, heartbeatSeconds: 60,
                         version: "0.1.0", target: "test", serial: serial, kept: 3, failed: failed)
      if failed > 0 { r.failures = [HostReport.Failure(id: "conf", reason: reason)] }
      var b = r.unsignedBytes()
      b += Ed25519.sign(b, secretKey: key ?? sk)
      return b
    }
  }

  func batch(_ reports: [[UInt8]], missed: UInt32 = 0) -> [UInt8] {
    var w = ByteWriter()
    for r in reports { ReportBatch.append(r, missed: missed, to: &w) }
    return w.bytes
  }

  @discardableResult
  func take(_ reports: [[UInt8]], _ a: ReportAcceptance = ReportAcceptance(maxHosts: 100, forwards: true),
            env: Environment? = nil, now: Int64 = 1_800_000_000, counters: inout ReportCounters) throws -> ReportAcceptance.Outcome {
    let e = env ?? self.env!
    return try withBytes(batch(reports)) { (b) throws(StoreError) -> ReportAcceptance.Outcome in
      try a.take(b, env: e, now: now, counters: &counters)
    }
  }

  func held(_ id: String) throws -> (HostReport, ReportEntry)? {
    let txn = try env.read()
    let e = try txn.reportEntry(id)
    txn.abort()
    guard let e else { return nil }
    return (try e.report(id), e)
  }

  func testAReportRoundTripsAndItsBoundsHold() throws {
    var h = Host("edge-1")
    let signed = h.signed(failed: 1, reason: "disk full")
    let (r, n) = try withBytes(signed) { (b) throws(RecordError) in try HostReport.decode(b) }
    XCTAssertEqual(n, signed.count - 64)
    XCTAssertEqual(r.hostID, "edge-1")
    XCTAssertEqual(r.failures, [HostReport.Failure(id: "conf", reason: "disk full")])
    XCTAssertFalse(r.healthy)
    XCTAssertLessThanOrEqual(h.signed().count, 256, "a healthy host's heartbeat fits in 256 bytes")

    // 100 failures of 1 KiB reasons still make one small record: 16 named, each cut to 160 bytes.
    var big = r
    big.failures = (0..<100).map { HostReport.Failure(id: "p\($0)", reason: String(repeating: "é", count: 1000)) }
    var bytes = big.unsignedBytes()
    bytes += Ed25519.sign(bytes, secretKey: h.sk)
    XCTAssertLessThanOrEqual(bytes.count, HostReport.maxBytes)
    let back = try withBytes(bytes) { (b) throws(RecordError) in try HostReport.decode(b).report }
    XCTAssertEqual(back.failures.count, HostReport.maxFailures)
    XCTAssertEqual(back.failures[0].reason.utf8.count, 160, "cut on a character boundary (2-byte é)")
  }

  func testAcceptedReportsAreKeptLatestPerHostAndPending() throws {
    var c = ReportCounters()
    var a = Host("edge-a"), b = Host("edge-b")
    let out = try take([a.signed(), b.signed(failed: 1, reason: "x")], counters: &c)
    XCTAssertEqual(out.accepted, 2)
    XCTAssertEqual(out.news, 2)
    XCTAssertEqual(c.accepted, 2)
    let (ra, ea) = try XCTUnwrap(held("edge-a"))
    XCTAssertEqual(ra.sequence, 1)
    XCTAssertTrue(ea.pending, "a relay forwards what it takes")
    // The same news again is taken (newer) but is no news; a change is.
    XCTAssertEqual(try take([a.signed()], counters: &c).news, 0)
    XCTAssertEqual(try take([a.signed(serial: 8)], counters: &c).news, 1)
    XCTAssertEqual(try held("edge-a")?.0.serial, 8)
    XCTAssertEqual(try held("edge-a")?.1.missed, 2, "two reports replaced while pending: transitions the way up missed")
  }

  func testForgedAlteredReplayedAndMalformedReportsAreRefused() throws {
    var c = ReportCounters()
    var h = Host("edge-1")
    try take([h.signed()], counters: &c)
    let good = try XCTUnwrap(held("edge-1"))

    // Forged: signed by someone else's key under this host's public key.
    let forged = h.signed(serial: 99, key: Host("mallory").sk)
    // Altered by a relay: a byte of the version text flipped after signing (it still decodes).
    var altered = h.signed(serial: 9)
    let version = Array("0.1.0".utf8)
    let at = try XCTUnwrap((0..<altered.count - 5).first { Array(altered[$0..<$0 + 5]) == version })
    altered[at + 2] ^= 1
    // Replayed: the first report again, and an old sequence.
    var old = h
    old.seq = 0
    let replay = old.signed()
    // Garbage and an oversized report.
    let garbage = Array("EAR1 not a report at all, padded to more than sixty-four bytes of text......".utf8)
    let huge = [UInt8](repeating: 1, count: HostReport.maxBytes + 1)

    let out = try take([forged], counters: &c)
    XCTAssertEqual(out.refusals.map(\.reason), [.badSignature])
    XCTAssertEqual(try take([altered], counters: &c).refusals.map(\.reason), [.badSignature])
    XCTAssertEqual(try take([replay], counters: &c).refusals.map(\.reason), [.replay])
    XCTAssertEqual(try take([garbage, huge], counters: &c).refusals.map(\.reason), [.malformed, .malformed])
    XCTAssertEqual(c.count(.badSignature), 2)
    XCTAssertEqual(c.count(.replay), 1)
    XCTAssertEqual(c.count(.malformed), 2)
    XCTAssertEqual(c.accepted, 1)
    let now = try XCTUnwrap(held("edge-1"))
    XCTAssertEqual(now.0, good.0, "no refused report replaced the latest good one")
  }

  func testAnotherKeyForAKnownHostIsRefusedAndFlagged() throws {
    var c = ReportCounters()
    var h = Host("edge-1")
    try take([h.signed()], counters: &c)
    var impostor = Host("edge-1")
    impostor.seq = 100
    let out = try take([impostor.signed(serial: 1)], counters: &c)
    XCTAssertEqual(out.refusals.map(\.reason), [.keyChanged])
    let (r, e) = try XCTUnwrap(held("edge-1"))
    XCTAssertEqual(r.publicKey, h.pk, "the key pinned on first sight stays")
    XCTAssertEqual(e.keyChanges, 1)
    XCTAssertEqual(try take([h.signed()], counters: &c).accepted, 1, "the real host goes on reporting")
    XCTAssertEqual(try held("edge-1")?.1.keyChanges, 1, "and the flag stays")

    // The collector's view flags it.
    let s = try FleetView.summary(env, now: 1_800_000_000)
    XCTAssertEqual(s.keyChanges, 1)
    let json = try FleetView.hostsJSON(env, now: 1_800_000_000, FleetView.Query())
    XCTAssertTrue(json.contains("\"key_changed\":true"), json)
  }

  func testAFloodingHostAndAFullStoreAreBounded() throws {
    var c = ReportCounters()
    var h = Host("edge-1")
    // Heartbeats every 60 s: 60 + 1 reports a minute, no more.
    let limit = Int(ReportAcceptance.perMinute(heartbeatSeconds: 60))
    XCTAssertEqual(limit, 61)
    for i in 0..<80 {
      try take([h.signed()], now: 1_800_000_000 + Int64(i / 40), counters: &c)
    }
    XCTAssertEqual(c.accepted, limit)
    XCTAssertEqual(c.count(.tooFrequent), 80 - limit)
    XCTAssertEqual(try take([h.signed()], now: 1_800_000_061, counters: &c).accepted, 1, "a minute later it is heard again")

    // A child inventing host ids fills the store to its bound, no further.
    let small = ReportAcceptance(maxHosts: 3, forwards: false)
    var made: [[UInt8]] = []
    for i in 0..<5 { var x = Host("made-\(i)"); made.append(x.signed()) }
    let out = try take(made, small, counters: &c)
    XCTAssertEqual(out.accepted, 2, "edge-1 holds one of the 3 places")
    XCTAssertEqual(out.refusals.map(\.reason), [.full, .full, .full])
    let txn = try env.read()
    XCTAssertEqual(try txn.count(.reports), 3)
    txn.abort()
  }

  func testFleetViewCountsEachHostOnceByState() throws {
    var c = ReportCounters()
    var a = Host("a"), b = Host("b"), s = Host("s"), old = Host("old")
    try take([s.signed()], now: 1_800_000_000, counters: &c)
    let t = Int64(1_800_000_000 + 4 * 60 + 1)   // past 4 heartbeats of 60 s for s
    try take([a.signed(serial: 8), b.signed(serial: 8, failed: 2, reason: "no space"), old.signed(serial: 6)], now: t, counters: &c)
    let v = try FleetView.summary(env, now: t)
    XCTAssertEqual(v.hosts, 4)
    XCTAssertEqual([v.converged, v.failed, v.stale], [2, 1, 1])
    XCTAssertEqual(v.newestSerial, 8)
    XCTAssertEqual(v.behind, 2, "s and old are on serial 7 and 6")
    XCTAssertEqual(v.serials.map(\.serial), [8, 7, 6])
    XCTAssertEqual(v.serials[0], FleetView.SerialRow(serial: 8, hosts: 2, converged: 1, failed: 1, stale: 0))
    var q = FleetView.Query()
    q.failed = true
    let failed = try FleetView.hostsJSON(env, now: t, q)
    XCTAssertTrue(failed.hasPrefix("{\"hosts\":[{\"host_id\":\"b\""), failed)
    XCTAssertTrue(failed.contains("\"reason\":\"no space\""), failed)
    XCTAssertTrue(failed.hasSuffix("\"total\":1}"), failed)
    q = FleetView.Query()
    q.stale = true
    XCTAssertTrue(try FleetView.hostsJSON(env, now: t, q).contains("\"host_id\":\"s\""))
    let m = FleetView.metrics(v)
    XCTAssertTrue(m.contains("edgeagent_fleet_hosts{serial=\"8\",state=\"failed\"} 1\n"), m)
    XCTAssertTrue(m.contains("edgeagent_fleet_hosts_behind 2\n"), m)
  }

  func testOwnReportsAdvanceAPersistedSequenceUnderOneKey() throws {
    var c = ReportCounters()
    let a = ReportAcceptance(maxHosts: 10, forwards: true)
    let r = HostReport(hostID: "me", publicKey: [], heartbeatSeconds: 60, serial: 3)
    let first = try HostReporting.submit(r, env: env, acceptance: a, now: 1_800_000_000, counters: &c)
    XCTAssertEqual(first.outcome.accepted, 1)
    let pk = try HostReporting.publicKey(env)
    // A restart: the same state, a new environment handle.
    env = nil
    env = try Environment(path: dir + "/state", optional: [.reports])
    let second = try HostReporting.submit(r, env: env, acceptance: a, now: 1_800_000_001, counters: &c)
    XCTAssertEqual(second.outcome.accepted, 1)
    XCTAssertEqual(try HostReporting.publicKey(env), pk, "the host key is made once and kept")
    let seq = try XCTUnwrap(held("me")?.0.sequence)
    XCTAssertGreaterThanOrEqual(seq, 1_800_000_001_000, "the wall clock in ms, so a power cut that undid commits cannot make a replay")
    // The clock going back (or standing still) still advances the sequence.
    try HostReporting.submit(r, env: env, acceptance: a, now: 1_700_000_000, counters: &c)
    XCTAssertEqual(try held("me")?.0.sequence, seq + 1)
  }

  func testReportsAreOpenedOnlyWhenAskedForAndNeverWrittenToAnotherDatabase() throws {
    // An apply's state has no reports database: a write there is refused (handle 0 is LMDB's
    // free-page database), and the state is not touched.
    let plain = try Environment(path: dir + "/plain")
    var c = ReportCounters()
    let before = plain.lastCommittedTransaction
    XCTAssertThrowsError(try take([Host("x").signedOnce()], ReportAcceptance(maxHosts: 10, forwards: true), env: plain, counters: &c))
    XCTAssertEqual(plain.lastCommittedTransaction, before)
    // A read-only open (status, fleet --state) finds the database a daemon made.
    var h = Host("edge-1")
    try take([h.signed()], counters: &c)
    env = nil
    let ro = try Environment(path: dir + "/state", readOnly: true)
    XCTAssertEqual(try FleetView.summary(ro, now: 1_800_000_000).hosts, 1)
  }

  func testAnAllowListTakesOnlyItsHostsWithTheirListedKeys() throws {
    var c = ReportCounters()
    var a = ReportAcceptance(maxHosts: 100, forwards: false)
    var listed = Host("edge-1"), stranger = Host("edge-2")
    a.allowed = ["edge-1": listed.pk]
    XCTAssertEqual(try take([listed.signed()], a, counters: &c).accepted, 1)
    XCTAssertEqual(try take([stranger.signed()], a, counters: &c).refusals.map(\.reason), [.notAllowed])
    // The listed key wins even over the first report: an impostor is refused and flagged.
    var impostor = Host("edge-1")
    impostor.seq = 50
    XCTAssertEqual(try take([impostor.signed()], a, counters: &c).refusals.map(\.reason), [.keyChanged])
    XCTAssertEqual(try held("edge-1")?.1.keyChanges, 1)
    XCTAssertNil(try held("edge-2"))
    XCTAssertEqual(c.count(.notAllowed), 1)
  }
}
