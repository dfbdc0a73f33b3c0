import EdgeCore
@testable import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import Foundation
import XCTest

/// Issue 16 over HTTP on 127.0.0.1: agents' reports through a relay to a collector, one batch
/// per forward; an upstream that is down keeps the reports pending (latest per host) until it is
/// back; the collector's endpoints.
final class ReportTreeTests: XCTestCase {
  let loop = Loop()
  var dir = ""

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    dir = FileManager.default.temporaryDirectory.path + "/edge16t-\(UUID().uuidString)"
  }

  override func tearDown() {
    for _ in 0..<5 { loop.runOnce(wait: false) }
    try? FileManager.default.removeItem(atPath: dir)
  }

  func run(until done: () -> Bool, timeoutMs: UInt64 = 15_000) { loop.run(until: done, timeoutMs: timeoutMs) }

  /// A state and its own report, stored pending.
  func agent(_ id: String, serial: UInt64, failed: UInt32 = 0) throws -> Environment {
    let env = try Environment(path: dir + "/" + id, optional: [.reports])
    var c = ReportCounters()
    var r = HostReport(hostID: id, publicKey: [], heartbeatSeconds: 60, serial: serial, kept: 2, failed: failed)
    if failed > 0 { r.failures = [HostReport.Failure(id: "conf", reason: "no space left")] }
    try HostReporting.submit(r, env: env, acceptance: ReportAcceptance(maxHosts: 10, forwards: true), now: wallClockSeconds(), counters: &c)
    return env
  }

  func listener(_ name: String, collector: Bool) throws -> (Relay, Environment) {
    let env = try Environment(path: dir + "/" + name, optional: [.reports])
    let r = Relay(loop: loop, env: env, servesBundles: !collector)
    r.reports = ReportSink(acceptance: ReportAcceptance(maxHosts: 1000, forwards: !collector), servesFleet: collector)
    try r.start(address: "127.0.0.1", port: 0)
    return (r, env)
  }

  func url(_ r: Relay) -> UpstreamURL { UpstreamURL("http://127.0.0.1:\(r.port)")! }

  func get(_ r: Relay, _ path: String) -> (Int, String) {
    var out: (Int, String)? = nil
    HTTPExchange(loop, host: "127.0.0.1", port: r.port, path: path, options: HTTPExchange.Options()) { res in
      switch res {
      case .success(let resp): out = (resp.status, String(decoding: resp.body, as: UTF8.self))
      case .failure(let e): out = (0, e.description)
      }
    }
    run(until: { out != nil })
    return out ?? (0, "no answer")
  }

  func testReportsGoThroughARelayToTheCollectorInBatches() throws {
    let (collector, cenv) = try listener("collector", collector: true)
    let (relay, renv) = try listener("relay", collector: false)
    // The relay forwards what its children send; news within a second, as one batch.
    let up = ReportForwarder(loop: loop, env: renv, periodMs: 60_000, upstreams: { [self] in [url(collector)] })
    relay.reports?.onNews = { up.news() }
    up.start(offsetMs: 0)
    var agents: [ReportForwarder] = []
    for i in 0..<20 {
      let env = try agent("edge-\(i)", serial: 5, failed: i == 3 ? 1 : 0)
      // The first upstream is down: each agent falls back to the relay.
      let f = ReportForwarder(loop: loop, env: env, periodMs: 60_000,
                              upstreams: { [self] in [UpstreamURL("http://127.0.0.1:1")!, url(relay)] })
      f.start(offsetMs: 0)
      agents.append(f)
    }
    func collected() -> Int {
      guard let txn = try? cenv.read() else { return -1 }
      let n = (try? txn.count(.reports)) ?? -1
      txn.abort()
      return n
    }
    run(until: { agents.allSatisfy { $0.stats.reports == 1 } && collected() == 20 && up.stats.reports == 20 })
    XCTAssertEqual(relay.reports?.batches, 20, "one POST per agent at the relay")
    XCTAssertEqual(collected(), 20, "every host reached the collector")
    XCTAssertLessThanOrEqual(collector.reports!.batches, 2, "the relay sent its subtree in one batch (or two, at a debounce edge)")
    XCTAssertEqual(try up.pendingCount(), 0)
    for f in agents { XCTAssertEqual(try f.pendingCount(), 0, "taken: no longer pending") }

    let (status, fleet) = get(collector, "/fleet")
    XCTAssertEqual(status, 200)
    XCTAssertTrue(fleet.contains("\"hosts\":20,\"newest_serial\":5,\"converged\":19,\"failed\":1,\"stale\":0"), fleet)
    let (_, failed) = get(collector, "/fleet/hosts?failed=1")
    XCTAssertTrue(failed.contains("\"host_id\":\"edge-3\""), failed)
    XCTAssertTrue(failed.contains("no space left"), failed)
    XCTAssertTrue(failed.hasSuffix("\"total\":1}"), failed)
    let (_, one) = get(collector, "/fleet/hosts?host=edge-7")
    XCTAssertTrue(one.contains("\"host_id\":\"edge-7\"") && one.hasSuffix("\"total\":1}"), one)
    let (pageStatus, page) = get(collector, "/")
    XCTAssertEqual(pageStatus, 200)
    XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
    XCTAssertLessThanOrEqual(page.utf8.count, 16 << 10, "the page is one small file")
    let (_, metrics) = get(collector, "/metrics")
    XCTAssertTrue(metrics.contains("edgeagent_fleet_hosts{serial=\"5\",state=\"converged\"} 19\n"), metrics)
    XCTAssertTrue(metrics.contains("edgeagent_reports_received_total 20\n"), metrics)
    // The relay's own /metrics has its subtree.
    let (_, rm) = get(relay, "/metrics")
    XCTAssertTrue(rm.contains("edgeagent_fleet_hosts{serial=\"5\",state=\"failed\"} 1\n"), rm)
    // A relay serves no fleet view; a GET of /report is refused.
    XCTAssertEqual(get(relay, "/fleet").0, 503, "a relay with no bundle: the bundle paths' answer, not a fleet")
    XCTAssertEqual(get(collector, "/report").0, 405)
    for f in agents { f.stop() }
    up.stop()
    relay.stop()
    collector.stop()
  }

  func testAnUpstreamThatIsDownKeepsTheLatestPendingUntilItIsBack() throws {
    let env = try agent("edge-1", serial: 1)
    // A port nobody listens on yet.
    let probe = try listener("probe", collector: true)
    let port = probe.0.port
    probe.0.stop()
    run(until: { false }, timeoutMs: 50)
    let f = ReportForwarder(loop: loop, env: env, periodMs: 60_000, upstreams: { [UpstreamURL("http://127.0.0.1:\(port)")!] })
    f.start(offsetMs: 0)
    run(until: { f.stats.failedFlushes >= 2 })
    XCTAssertGreaterThanOrEqual(f.stats.failedFlushes, 2, "retried with backoff")
    // Two more runs while offline: the latest replaces the older, counted as missed.
    var c = ReportCounters()
    for s in [2, 3] as [UInt64] {
      try HostReporting.submit(HostReport(hostID: "edge-1", publicKey: [], heartbeatSeconds: 60, serial: s),
                               env: env, acceptance: ReportAcceptance(maxHosts: 10, forwards: true), now: wallClockSeconds(), counters: &c)
    }
    XCTAssertEqual(try f.pendingCount(), 1, "the latest per host, not a queue")
    // The collector comes back on that port; the backoff (at most a few seconds here) finds it.
    let cenv = try Environment(path: dir + "/back", optional: [.reports])
    let back = Relay(loop: loop, env: cenv, servesBundles: false)
    back.reports = ReportSink(acceptance: ReportAcceptance(maxHosts: 10, forwards: false), servesFleet: true)
    try back.start(address: "127.0.0.1", port: port)
    run(until: { f.stats.reports == 1 }, timeoutMs: 20_000)
    XCTAssertEqual(f.stats.reports, 1)
    XCTAssertEqual(f.stats.failedFlushes, 0)
    let txn = try cenv.read()
    let e = try XCTUnwrap(try txn.reportEntry("edge-1"))
    XCTAssertEqual(try e.report("edge-1").serial, 3, "the host's latest state arrived")
    XCTAssertEqual(e.missed, 2, "and how many transitions the outage cost")
    XCTAssertFalse(e.pending, "a collector forwards nothing")
    txn.abort()
    f.stop()
    back.stop()
  }

  func testABatchOverTheBoundIsRefusedUnread() throws {
    let (collector, _) = try listener("c", collector: true)
    var o = HTTPExchange.Options()
    o.body = [UInt8](repeating: 0, count: ReportBatch.maxBytes + 1)
    var status = -1
    HTTPExchange(loop, host: "127.0.0.1", port: collector.port, path: "/report", options: o) { r in
      if case .success(let resp) = r { status = resp.status } else { status = 0 }
    }
    run(until: { status >= 0 })
    XCTAssertEqual(status, 413)
    collector.stop()
  }
}
