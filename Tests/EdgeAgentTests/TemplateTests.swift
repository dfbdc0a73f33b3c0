@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// `template` promises end to end through `apply`: rendered with vars, class overrides and the
/// root's facts; kept in place while nothing changes; rendered again when a fact does; refused
/// whole, touching nothing, when a template cannot render on this host.
final class TemplateTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
    try box.write(box.hostPath("/etc/os-release"), "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
  }

  override func tearDown() { box.remove() }

  static let policy = #"""
    {"policy": "t",
     "vars": {"port": "8080", "ups": [{"name": "a", "addr": "10.0.0.1"}, {"name": "b", "addr": "10.0.0.2"}], "tls": false},
     "class_vars": [{"if": "gateway", "vars": {"port": "80"}}],
     "promises": [
      {"id": "conf", "type": "template", "path": "/etc/app/app.conf", "mode": "0640",
       "template": "# {{os_name}}\nlisten {{port}}\n{{#ups}}\nserver {{name}} {{addr}}\n{{/ups}}\n{{^tls}}\n# plain\n{{/tls}}\n"},
      {"id": "only-debian", "type": "file", "path": "/etc/app/debian", "content": "yes\n", "if": "debian_12"}
     ]}
    """#

  func testRendersWithVarsOverridesAndFactsAndStaysKeptInPlace() throws {
    let path = try box.policy(Self.policy)
    // The policy file's identity is trusted once it is old enough (VerifyInPlaceTests).
    Thread.sleep(forTimeInterval: 2.2)
    let first = try box.apply(path, labels: ["gateway"])
    XCTAssertEqual(first.statuses, ["conf": .repaired, "only-debian": .repaired])
    XCTAssertEqual(box.read(box.hostPath("/etc/app/app.conf")),
                   "# Debian GNU/Linux 12 (bookworm)\nlisten 80\nserver a 10.0.0.1\nserver b 10.0.0.2\n# plain\n")
    var st = stat()
    XCTAssertEqual(stat(box.hostPath("/etc/app/app.conf"), &st), 0)
    XCTAssertEqual(st.st_mode & 0o7777, 0o640)

    let second = try box.apply(path, labels: ["gateway"])
    XCTAssertTrue(second.verifiedInPlace, "a kept template is checked in place, as a file")
    XCTAssertEqual(second.summary.kept, 2)

    // Without the label the override no longer holds: the classes changed, so the full path
    // renders again and repairs.
    let third = try box.apply(path)
    XCTAssertFalse(third.verifiedInPlace)
    XCTAssertEqual(third.statuses["conf"], .repaired)
    XCTAssertTrue(box.read(box.hostPath("/etc/app/app.conf"))?.contains("listen 8080\n") ?? false)
  }

  func testAChangedFactRendersAgain() throws {
    let path = try box.policy(Self.policy)
    Thread.sleep(forTimeInterval: 2.2)
    _ = try box.apply(path)
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    // The distribution changes name (an upgrade): its class stays, its fact does not.
    try box.write(box.hostPath("/etc/os-release"), "PRETTY_NAME=\"Debian GNU/Linux 12.9\"\nID=debian\nVERSION_ID=\"12\"\n")
    let after = try box.apply(path)
    XCTAssertFalse(after.verifiedInPlace, "the facts the template was rendered with changed")
    XCTAssertEqual(after.statuses["conf"], .repaired)
    XCTAssertEqual(box.read(box.hostPath("/etc/app/app.conf"))?.hasPrefix("# Debian GNU/Linux 12.9\n"), true)
  }

  func testADryRunShowsTheRenderedDiff() throws {
    let path = try box.policy(Self.policy)
    _ = try box.apply(path)
    let dry = try box.apply(path, dryRun: true, labels: ["gateway"])
    let conf = try XCTUnwrap(dry.results.first { $0.id == "conf" })
    XCTAssertEqual(conf.outcome.status, .repaired)
    XCTAssertTrue(conf.diff.contains("-listen 8080\n+listen 80\n"), conf.diff)
    XCTAssertTrue(box.read(box.hostPath("/etc/app/app.conf"))?.contains("listen 8080\n") ?? false, "a dry run changes nothing")
  }

  func testATemplateThatCannotRenderHereRefusesThePolicyAndTouchesNothing() throws {
    // A blob this state does not hold (a local policy naming a bundle's blob).
    let missing = "sha256:" + String(repeating: "ab", count: 32)
    let path = try box.policy(#"""
      {"policy": "t", "promises": [
        {"id": "first", "type": "file", "path": "/etc/first", "content": "x"},
        {"id": "conf", "type": "template", "path": "/etc/app.conf", "source": "\#(missing)"}]}
      """#)
    let error = try XCTUnwrap(box.applyError(path))
    XCTAssertTrue("\(error)".contains(#"promise "conf": key "source": template blob \#(missing) is not in the state"#), "\(error)")
    XCTAssertNil(box.read(box.hostPath("/etc/first")), "nothing touched")
  }

  func testABlobTemplateRendersFromItsText() throws {
    var policy = try PolicyDecoder.decode(Array(#"""
      {"policy": "t", "vars": {"who": "edge"}, "promises": [
        {"id": "conf", "type": "template", "path": "/etc/app.conf", "source": "sha256:\#(String(repeating: "cd", count: 32))"}]}
      """#.utf8))
    var facts = HostFacts()
    facts.cpus = 4
    try renderTemplates(&policy, facts: facts, classes: [], blob: { _ in Array("{{who}} on {{cpus}}\n".utf8) })
    XCTAssertEqual(policy.promises[0].content, Array("edge on 4\n".utf8))
    XCTAssertNil(policy.promises[0].source, "the rendering, not the blob, is what the file holds")
    // A name the blob's text has and the vars do not: refused, at the blob's key.
    var bad = try PolicyDecoder.decode(Array(#"""
      {"policy": "t", "promises": [
        {"id": "conf", "type": "template", "path": "/etc/app.conf", "source": "sha256:\#(String(repeating: "cd", count: 32))"}]}
      """#.utf8))
    XCTAssertThrowsError(try renderTemplates(&bad, facts: facts, classes: [], blob: { _ in Array("x\n {{who}}".utf8) })) { e in
      XCTAssertEqual("\(e)", #"2:3: promise "conf": key "source": template line 2:2: unknown variable "who" (not in the policy's vars nor the host's facts)"#)
    }
  }
}
