import Foundation
import XCTest

/// Templates in the daemon: rendered when the policy is put in force, rendered again when a
/// fact changed before a full run (SIGHUP here), and a policy whose template names an unknown
/// variable refused with the last good one kept.
final class DaemonTemplateTests: XCTestCase {
  func testTheDaemonRendersFollowsAFactAndKeepsTheLastGoodOnARefusal() throws {
    let run = try AgentRun.make(self)
    let osRelease = run.root + "/etc/os-release"
    try FileManager.default.createDirectory(atPath: run.root + "/etc", withIntermediateDirectories: true)
    try Data("PRETTY_NAME=\"Edge OS 1\"\nID=edgeos\nVERSION_ID=1\n".utf8).write(to: URL(fileURLWithPath: osRelease))
    func policy(_ template: String) -> String {
      #"{"policy": "t", "vars": {"port": "8080"}, "promises": [{"id": "motd", "type": "template", "path": "/etc/motd", "template": "\#(template)"}]}"#
    }
    try run.writePolicy(policy("{{os_name}} port {{port}}\\n"))
    try run.startConverged()
    let motd = run.root + "/etc/motd"
    func content() -> String { String(decoding: FileManager.default.contents(atPath: motd) ?? Data(), as: UTF8.self) }
    XCTAssertEqual(content(), "Edge OS 1 port 8080\n", run.log)

    try Data("PRETTY_NAME=\"Edge OS 2\"\nID=edgeos\nVERSION_ID=2\n".utf8).write(to: URL(fileURLWithPath: osRelease))
    run.signal(SIGHUP)
    XCTAssertTrue(pollUntil(10) { content() == "Edge OS 2 port 8080\n" }, "motd: \(content())\n\(run.log)")
    XCTAssertTrue(run.log.contains("facts changed: rendering the templates again"), run.log)

    // A typo in the next policy: refused where it is read, the rendered file stays.
    try run.writePolicy(policy("{{os_name}} port {{prot}}\\n"))
    XCTAssertTrue(run.waitForLog("policy rejected, keeping the last good one", timeout: 10), run.log)
    XCTAssertTrue(run.log.contains(#"template line 1:18: unknown variable \"prot\""#), run.log)
    XCTAssertEqual(content(), "Edge OS 2 port 8080\n")
  }

  /// A signed bundle carrying a template as a blob (`source_file`) and a package's database
  /// check: pulled from a file:// origin, verified, rendered with this host's facts, and after a
  /// restart rendered again from the bundle held in the state.
  func testABundlesTemplateBlobIsRenderedHereAndAgainAfterARestart() throws {
    let run = try AgentRun.make(self)
    try FileManager.default.createDirectory(atPath: run.root + "/etc", withIntermediateDirectories: true)
    try Data("PRETTY_NAME=\"Edge OS 7\"\nID=edgeos\n".utf8).write(to: URL(fileURLWithPath: run.root + "/etc/os-release"))
    XCTAssertEqual(try Edgeagent.run(["keygen", "--out", run.base + "/k"]).status, 0)
    try run.file("app.conf.mustache", "# {{os_name}}\n{{#peers}}\npeer {{.}}\n{{/peers}}\n")
    try run.file("bundle-policy.json", """
      {"policy": "signed", "vars": {"peers": ["10.0.0.1", "10.0.0.2"]},
       "promises": [{"id": "conf", "type": "template", "path": "/etc/app.conf", "source_file": "app.conf.mustache"}]}
      """)
    let published = try Edgeagent.run(["publish", run.base + "/bundle-policy.json", run.base + "/out", "--key", run.base + "/k.key"])
    XCTAssertEqual(published.status, 0, published.stderr)
    let config = try run.file("config.json", """
      {"upstreams": ["file://\(run.base)/out"], "trusted_keys": ["\(run.base)/k.pub"]}
      """)
    try run.start(["--config", config])
    let conf = run.root + "/etc/app.conf"
    func content() -> String { String(decoding: FileManager.default.contents(atPath: conf) ?? Data(), as: UTF8.self) }
    XCTAssertTrue(pollUntil(10) { content() == "# Edge OS 7\npeer 10.0.0.1\npeer 10.0.0.2\n" }, "\(content())\n\(run.log)")

    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
    try Data("PRETTY_NAME=\"Edge OS 8\"\nID=edgeos\n".utf8).write(to: URL(fileURLWithPath: run.root + "/etc/os-release"))
    try run.start(["--config", config])
    XCTAssertTrue(pollUntil(10) { content() == "# Edge OS 8\npeer 10.0.0.1\npeer 10.0.0.2\n" }, "\(content())\n\(run.log)")
  }
}
