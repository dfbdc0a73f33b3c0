import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// A signing key, a source policy with one blob, a bundle directory published from it, and an
/// agent state: what the bundle, puller and relay tests share.
final class BundleFixture {
  let dir: String
  let publicKey: [UInt8]
  let secretKey: [UInt8]
  var keyPath: String { dir + "/k.key" }
  var out: String { dir + "/out" }
  var state: String { dir + "/state" }
  /// nginx's ETag is the file's mtime (whole seconds) and size: two publishes of one size within
  /// a second shared an ETag, and the conditional GET for the new serial got a 304 (a flake).
  /// Every file this fixture writes for an upstream gets its own second, counted from here.
  private var nextStamp = Date().timeIntervalSince1970.rounded(.down) - 100_000

  init(_ label: String) throws {
    XCTAssertTrue(cryptoInit())
    dir = FileManager.default.temporaryDirectory.path + "/edge5-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
    (publicKey, secretKey) = Ed25519.keypair()
    try Ed25519.writeKeyFile(keyPath, secretKey, mode: 0o600)
    try write("src/app.conf", "port=8080\n")
  }

  deinit { try? FileManager.default.removeItem(atPath: dir) }

  func write(_ rel: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + rel)) }
  func read(_ rel: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + rel))) }
  func overwrite(_ rel: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + rel))
    try stamp(dir + "/" + rel)
  }

  /// Gives `path` an mtime no other file of this fixture has had (see `nextStamp`).
  func stamp(_ path: String) throws {
    nextStamp += 1
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: nextStamp)], ofItemAtPath: path)
  }

  /// Publishes a policy named `name` with a file from a blob; returns the report.
  @discardableResult
  func publish(serial: UInt64, name: String = "demo", content: String = "port=8080\n", now: Int64 = wallClockSeconds(),
               expiresIn: Int64 = 3600, relays: [String] = [], relayFanout: Int? = nil,
               to outDir: String? = nil, agent: (directory: String, version: String)? = nil) throws -> PublishReport {
    try write("src/app.conf", content)
    try write("src/policy.json", """
      {"policy": "\(name)", "promises": [
        {"id": "conf", "type": "file", "path": "/etc/app.conf", "source_file": "app.conf", "mode": "0644"},
        {"id": "motd", "type": "file", "path": "/etc/motd", "content": "serial \(serial)\\n"}
      ]}
      """)
    var o = PublishOptions(sourcePolicy: dir + "/src/policy.json", outDir: outDir ?? out, secretKeyPath: keyPath)
    o.serial = serial
    o.now = now
    o.expiresIn = expiresIn
    o.relays = relays
    o.relayFanout = relayFanout
    o.agentDirectory = agent?.directory
    o.agentVersion = agent?.version
    let report: PublishReport
    do { report = try publishBundle(o) } catch { throw error }
    for name in ["bundle.json", "bundle.json.sig"] { try stamp((outDir ?? out) + "/" + name) }
    return report
  }

  func environment(_ path: String? = nil) throws -> Environment { try Environment(path: path ?? state) }

  /// Accepts the published directory from disk, as a file:// upstream would.
  func accept(_ env: Environment, keys: [[UInt8]]? = nil, now: Int64 = wallClockSeconds(), from: String? = nil) throws(BundleError) -> AcceptedBundle {
    let d = BundleDirectory(from ?? out)
    let bytes: [UInt8], sig: [UInt8]
    do throws(HostError) { bytes = try d.readBundle(); sig = try d.readSignature() } catch { throw .host(error) }
    return try acceptBundle(env, bytes: bytes, signature: sig, trustedKeys: keys ?? [publicKey], now: now) {
      (b) throws(BundleError) -> [UInt8] in try d.readBlob(b)
    }
  }
}

/// The rejection inside a BundleError, or nil.
func rejection(_ e: BundleError) -> BundleRejection? {
  if case .rejected(let r) = e { return r }
  return nil
}
