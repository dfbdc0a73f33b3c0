import Foundation
import XCTest

/// `edgeagent publish` ships each `source_file` as a blob every relay serves: a file outside the
/// policy's directory (`../k.key`, an absolute path, a symlink out) is refused unless
/// --allow-outside-sources, and a secret key is never published, with or without it.
final class PublishSourcesTests: XCTestCase {
  var base: String!

  override func setUpWithError() throws {
    base = FileManager.default.temporaryDirectory.path + "/edgeagent-publish-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: base + "/src", withIntermediateDirectories: true)
    let keygen = try Edgeagent.run(["keygen", "--out", base + "/k"])
    XCTAssertEqual(keygen.status, 0, keygen.stderr)
    try write("src/app.conf", "port=8080\n")
    try write("outside.conf", "outside\n")
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: base) }

  private func write(_ rel: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: base + "/" + rel))
  }

  private func publish(_ source: String, _ extra: [String] = []) throws -> Edgeagent.Result {
    try write("src/policy.json", #"{"policy": "p", "promises": [{"id": "conf", "type": "file", "path": "/etc/app.conf", "source_file": "\#(source)"}]}"#)
    return try Edgeagent.run(["publish", base + "/src/policy.json", base + "/out", "--key", base + "/k.key"] + extra)
  }

  /// Every blob published so far.
  private var blobs: [String] { (try? FileManager.default.contentsOfDirectory(atPath: base + "/out/blobs")) ?? [] }

  func testASourceInsideThePolicysDirectoryIsPublished() throws {
    let r = try publish("app.conf")
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(blobs.count, 1)
  }

  func testSourcesOutsideThePolicysDirectoryAreRefused() throws {
    try FileManager.default.createSymbolicLink(atPath: base + "/src/link.conf", withDestinationPath: base + "/outside.conf")
    for source in ["../outside.conf", base + "/outside.conf", "link.conf", "./../src/../outside.conf"] {
      let r = try publish(source)
      XCTAssertEqual(r.status, 2, "\(source): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains("promise \"conf\""), r.stderr)
      XCTAssertTrue(r.stderr.contains("outside the policy's directory"), r.stderr)
      XCTAssertTrue(r.stderr.contains(base + "/outside.conf"), r.stderr)
      XCTAssertEqual(blobs, [], "\(source): nothing was written")
    }
    let allowed = try publish("../outside.conf", ["--allow-outside-sources"])
    XCTAssertEqual(allowed.status, 0, allowed.stderr)
    XCTAssertEqual(blobs.count, 1)
  }

  /// A template kept in its own file is checked when published, as an inline one is when the
  /// policy is decoded: an unknown name is refused at its line, and nothing is written.
  func testATemplatesFileIsCheckedWhenPublished() throws {
    try write("src/app.conf.mustache", "# {{hostname}}\nlisten {{prot}}\n")
    try write("src/policy.json", #"{"policy": "p", "vars": {"port": "80"}, "promises": [{"id": "conf", "type": "template", "path": "/etc/app.conf", "source_file": "app.conf.mustache"}]}"#)
    let bad = try Edgeagent.run(["publish", base + "/src/policy.json", base + "/out", "--key", base + "/k.key"])
    XCTAssertEqual(bad.status, 2, bad.stderr)
    XCTAssertTrue(bad.stderr.contains(#"promise "conf": key "source": template line 2:8: unknown variable "prot""#), bad.stderr)
    XCTAssertEqual(blobs, [])
    try write("src/app.conf.mustache", "# {{hostname}}\nlisten {{port}}\n")
    let good = try Edgeagent.run(["publish", base + "/src/policy.json", base + "/out", "--key", base + "/k.key"])
    XCTAssertEqual(good.status, 0, good.stderr)
    XCTAssertEqual(blobs.count, 1)
  }

  func testASecretKeyIsNeverPublished() throws {
    // The key beside the policy, outside it with the flag, and under another name.
    try FileManager.default.copyItem(atPath: base + "/k.key", toPath: base + "/src/signing.txt")
    for (source, extra) in [("../k.key", ["--allow-outside-sources"]), ("signing.txt", [])] {
      let r = try publish(source, extra)
      XCTAssertEqual(r.status, 2, "\(source): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains("promise \"conf\""), r.stderr)
      XCTAssertTrue(r.stderr.contains("secret signing key"), r.stderr)
      XCTAssertEqual(blobs, [], "\(source): nothing was written")
    }
    // A public key is fine to publish.
    try FileManager.default.copyItem(atPath: base + "/k.pub", toPath: base + "/src/k.pub")
    let pub = try publish("k.pub")
    XCTAssertEqual(pub.status, 0, pub.stderr)
  }
}
