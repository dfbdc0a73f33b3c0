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
}
