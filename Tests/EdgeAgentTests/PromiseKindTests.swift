@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// Each promise type's two checks (PromiseKind.swift) agree: the in-place fast check says kept
/// (or skipped) only when the full check does, and a drift the full check would repair is never
/// called kept in place. One row per type and state; a new type adds its rows here.
final class PromiseKindTests: XCTestCase {
  struct Row {
    var name: String
    /// The policy's promises (JSON objects, comma-separated).
    var promises: String
    /// The host before converging.
    var setup: (Sandbox) throws -> Void = { _ in }
    /// What drifts after converging; nil: the row has only a kept state.
    var drift: ((Sandbox) throws -> Void)?
    /// The policy the drifted host is checked against, when the drift is in the promise.
    var driftedPromises: String? = nil
    /// Whether only a program can say it is kept: the fast check then gives up.
    var fastUncertain = false
  }

  static func dpkgStatus(_ b: Sandbox, _ text: String) throws {
    try FileManager.default.createDirectory(atPath: b.hostPath("/var/lib/dpkg"), withIntermediateDirectories: true)
    try b.write(b.hostPath("/var/lib/dpkg/status"), text)
  }

  static func accountFiles(_ b: Sandbox) throws {
    try b.write(b.hostPath("/etc/passwd"), "root:x:0:0::/root:/bin/sh\n")
    try b.write(b.hostPath("/etc/group"), "root:x:0:\n")
  }

  static func passwd(_ b: Sandbox, uidOffset: UInt32) throws {
    try b.write(b.hostPath("/etc/passwd"), "me:x:\(getuid() + uidOffset):\(getgid())::/:/bin/sh\n")
    try b.write(b.hostPath("/etc/group"), "us:x:\(getgid()):\n")
  }

  let rows: [Row] = [
    Row(name: "file content and mode",
        promises: #"{"id": "x", "type": "file", "path": "/etc/x.conf", "content": "a=1\n", "mode": "0640"}"#,
        drift: { b in try b.write(b.hostPath("/etc/x.conf"), "a=2\n", mode: 0o640) }),
    Row(name: "file mode",
        promises: #"{"id": "x", "type": "file", "path": "/etc/x.conf", "content": "a=1\n", "mode": "0640"}"#,
        drift: { b in chmod(b.hostPath("/etc/x.conf"), 0o644) }),
    Row(name: "file mode, content not managed",
        promises: #"{"id": "x", "type": "file", "path": "/etc/x.conf", "mode": "0640"}"#,
        setup: { b in try b.write(b.hostPath("/etc/x.conf"), "mine\n", mode: 0o644) },
        drift: { b in chmod(b.hostPath("/etc/x.conf"), 0o600) }),
    Row(name: "file owner",
        promises: #"{"id": "x", "type": "file", "path": "/etc/x.conf", "content": "a=1\n", "owner": "me", "group": "us"}"#,
        setup: { b in try passwd(b, uidOffset: 0) },
        drift: { b in try passwd(b, uidOffset: 1) }),
    Row(name: "file absent",
        promises: #"{"id": "x", "type": "file", "path": "/etc/gone", "state": "absent"}"#,
        drift: { b in try b.write(b.hostPath("/etc/gone"), "back") }),
    Row(name: "directory mode",
        promises: #"{"id": "x", "type": "directory", "path": "/opt/app", "mode": "0750"}"#,
        drift: { b in chmod(b.hostPath("/opt/app"), 0o700) }),
    Row(name: "directory absent",
        promises: #"{"id": "x", "type": "directory", "path": "/opt/old", "state": "absent"}"#,
        drift: { b in try FileManager.default.createDirectory(atPath: b.hostPath("/opt/old"), withIntermediateDirectories: true) }),
    Row(name: "link target",
        promises: #"{"id": "x", "type": "link", "path": "/opt/current", "target": "/opt/v1"}"#,
        drift: { b in
          try FileManager.default.removeItem(atPath: b.hostPath("/opt/current"))
          try FileManager.default.createSymbolicLink(atPath: b.hostPath("/opt/current"), withDestinationPath: "/opt/v2")
        }),
    Row(name: "link absent",
        promises: #"{"id": "x", "type": "link", "path": "/opt/old", "state": "absent"}"#,
        drift: { b in
          try FileManager.default.createDirectory(atPath: b.hostPath("/opt"), withIntermediateDirectories: true)
          try FileManager.default.createSymbolicLink(atPath: b.hostPath("/opt/old"), withDestinationPath: "/x")
        }),
    Row(name: "command creates",
        promises: #"{"id": "x", "type": "command", "exec": ["/bin/sh", "-c", "touch made"], "creates": "/made"}"#,
        drift: { b in try FileManager.default.removeItem(atPath: b.hostPath("/made")) }),
    Row(name: "command run once",
        promises: #"{"id": "x", "type": "command", "exec": ["/bin/true"]}"#,
        drift: { _ in },
        driftedPromises: #"{"id": "x", "type": "command", "exec": ["/bin/true", "again"]}"#),
    Row(name: "command unless",
        promises: #"{"id": "x", "type": "command", "exec": ["/bin/true"], "unless": ["/bin/true"]}"#,
        fastUncertain: true),
    Row(name: "sysctl",
        promises: #"{"id": "x", "type": "sysctl", "key": "net.ipv4.ip_forward", "value": "1"}"#,
        setup: { b in try b.write(b.hostPath("/proc/sys/net/ipv4/ip_forward"), "0\n") },
        drift: { b in try b.write(b.hostPath("/proc/sys/net/ipv4/ip_forward"), "0\n") }),
    Row(name: "template content and mode",
        promises: #"{"id": "x", "type": "template", "path": "/etc/t.conf", "template": "host={{hostname}}\n", "mode": "0640"}"#,
        drift: { b in try b.write(b.hostPath("/etc/t.conf"), "host=other\n", mode: 0o640) }),
    Row(name: "line setting",
        promises: #"{"id": "x", "type": "line", "path": "/etc/sshd_config", "key": "PasswordAuthentication", "value": "no", "separator": " "}"#,
        setup: { b in try b.write(b.hostPath("/etc/sshd_config"), "# keep me\nPort 22\nPasswordAuthentication yes\n") },
        drift: { b in try b.write(b.hostPath("/etc/sshd_config"), "# keep me\nPort 22\nPasswordAuthentication yes\n") }),
    Row(name: "line absent by match",
        promises: #"{"id": "x", "type": "line", "path": "/etc/hosts.allow", "match": "^ALL:", "state": "absent"}"#,
        setup: { b in try b.write(b.hostPath("/etc/hosts.allow"), "sshd: 10.0.0.0/8\nALL: ALL\n") },
        drift: { b in try b.write(b.hostPath("/etc/hosts.allow"), "sshd: 10.0.0.0/8\nALL: 1.2.3.4\n") }),
    Row(name: "user",
        promises: #"{"id": "x", "type": "user", "name": "app", "uid": 1500, "shell": "/bin/sh"}"#,
        setup: { b in try accountFiles(b) },
        drift: { b in try b.write(b.hostPath("/etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1500:1500::/home/app:/bin/bash\n") }),
    Row(name: "group",
        promises: #"{"id": "x", "type": "group", "name": "video", "gid": 44}"#,
        setup: { b in try accountFiles(b) },
        drift: { b in try b.write(b.hostPath("/etc/group"), "root:x:0:\nvideo:x:45:\n") }),
    Row(name: "package",
        promises: #"{"id": "x", "type": "package", "name": "nginx", "state": "1.22.1-9"}"#,
        setup: { b in try dpkgStatus(b, "Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-9\n") },
        drift: { b in try dpkgStatus(b, "Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-8\n") }),
    Row(name: "service",
        promises: #"{"id": "x", "type": "service", "exec": ["/bin/sleep", "1000"]}"#),
    Row(name: "false condition",
        promises: #"{"id": "x", "type": "file", "path": "/etc/x.conf", "content": "a", "if": "no_such_class"}"#),
  ]

  override func setUpWithError() throws { XCTAssertTrue(cryptoInit()) }

  func testTheFastAndTheFullCheckAgreeForEachType() throws {
    // Every PromiseType has rows.
    for t in PromiseType.allCases {
      XCTAssertTrue(rows.contains { $0.promises.contains(#""type": "\#(t.name)""#) }, "no row for \(t.name)")
    }
    for row in rows {
      let box = try Sandbox()
      defer { box.remove() }
      try row.setup(box)
      let path = try box.policy(policy(row.promises))
      let first = try box.apply(path)
      XCTAssertEqual(first.summary.failed, 0, "\(row.name): \(first.results)")

      let (full, fast) = try checks(box, policy(row.promises))
      if row.fastUncertain {
        // Only a program can tell (a dry run does not run it): the fast check must not vouch.
        XCTAssertNil(fast, "\(row.name): full \(full)")
      } else {
        XCTAssertTrue(full.status == .kept || full.status == .skipped, "\(row.name): converged, full check: \(full)")
        XCTAssertEqual(fast, full, "\(row.name): converged")
      }

      guard let drift = row.drift else { continue }
      try drift(box)
      let (drifted, fastDrifted) = try checks(box, policy(row.driftedPromises ?? row.promises))
      XCTAssertEqual(drifted.status, .repaired, "\(row.name): drifted, full check: \(drifted)")
      XCTAssertNil(fastDrifted, "\(row.name): a drift was called \(String(describing: fastDrifted)) in place")
    }
  }

  private func policy(_ promises: String) -> String { #"{"policy": "p", "promises": [\#(promises)]}"# }

  /// The one promise's outcome by the full check (a dry run, so the host stays as it is) and by
  /// the fast check (nil: not certain), both against the state `apply` left.
  private func checks(_ box: Sandbox, _ text: String) throws -> (Outcome, Outcome?) {
    var policy = try PolicyDecoder.decode(Array(text.utf8))
    try renderTemplates(&policy, facts: readFacts(root: box.root, labels: []), classes: hostClasses(labels: []), blob: { _ in nil })
    let converger = try Converger(root: box.root, classes: hostClasses(labels: []), dryRun: true)
    let prepared = converger.prepare(policy)
    // The state's stat cache and outcomes, copied out of one read transaction.
    var stats: [[UInt8]: StatRecord] = [:]
    var actual: [String: ActualRecord] = [:]
    let env = try Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    try txn.forEach(.statcache) { k, v in stats[Array(k)] = StatRecord.decode(v); return true }
    try txn.forEach(.actual) { k, v in actual[String(decoding: k, as: UTF8.self)] = try? ActualRecord.decode(v); return true }
    txn.abort()
    let cachedStat: (UnsafeRawBufferPointer) -> StatRecord? = { stats[Array($0)] }
    let previous: (String) -> ActualRecord? = { actual[$0] }
    let full = converger.run(policy, prepared, order: [0], cachedStat: cachedStat,
                             blob: { _, body in body(nil) }, previous: previous)[0]!

    let record = PromiseRecord.encode(policy.promises[0], digest: prepared[0].digest ?? .zero)
    let rootDir = try Directory.openRoot(box.root)
    var verifier = InPlaceVerifier(root: box.root, classes: hostClasses(labels: []), reportKept: true)
    let kept = record.withUnsafeBytes { raw in
      verifier.verify(raw, root: rootDir, previous: previous, cachedStat: cachedStat)
    }
    // Not certain: put aside for the full check (`doubt`), or the whole run sent down the full path.
    return (full, kept && verifier.unsure.isEmpty ? verifier.results.last?.outcome : nil)
  }
}
