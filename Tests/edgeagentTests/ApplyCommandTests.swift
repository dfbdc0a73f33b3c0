import Foundation
import XCTest

final class ApplyCommandTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws { box = try Sandbox() }
  override func tearDown() { box.remove() }

  private func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init) }

  func testFirstRunPrintsEachRepairAndExits0() throws {
    let r = try box.apply(try box.policy(try examplePolicyText()))
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(r.stderr, "")
    let out = lines(r.stdout)
    XCTAssertTrue(out.contains("repaired app-dir: created"), r.stdout)
    XCTAssertTrue(out.contains("repaired app-conf: created"))
    XCTAssertTrue(out.contains("kept old-conf"))
    XCTAssertTrue(out.contains(#"skipped router-only: condition "role_router & !arm" is false"#))
    XCTAssertEqual(out.last, "policy gateway: kept=1 repaired=5 failed=0 skipped=1")
    XCTAssertEqual(out.count, 8)
    XCTAssertEqual(try String(contentsOfFile: box.root + "/opt/app/app.conf", encoding: .utf8), "port=8080\nlog=/var/log/app.log\n")
  }

  func testSecondRunKeepsEverythingAndExits0() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    let r = try box.apply(path)
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(lines(r.stdout).contains("kept app-conf"))
    XCTAssertEqual(lines(r.stdout).last, "policy gateway: kept=6 repaired=0 failed=0 skipped=1")
  }

  func testQuietPrintsOnlyWhatWasNotKept() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    let r = try box.apply(path, ["--quiet"])
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(lines(r.stdout), [#"skipped router-only: condition "role_router & !arm" is false"#,
                                     "policy gateway: kept=6 repaired=0 failed=0 skipped=1"])
  }

  func testLabelDefinesAClass() throws {
    let r = try box.apply(try box.policy(try examplePolicyText()), ["--label", "role_router"])
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(lines(r.stdout).contains("repaired router-only: created"), r.stdout)
  }

  func testInlineOptionValuesWork() throws {
    let path = try box.policy(try examplePolicyText())
    let r = try Edgeagent.run(["apply", path, "--root=\(box.root)", "--state=\(box.state)"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(box.exists(box.root + "/etc/motd"))
  }

  func testAFailedPromiseExits1() throws {
    try FileManager.default.createDirectory(atPath: box.root + "/etc/motd", withIntermediateDirectories: true)
    let r = try box.apply(try box.policy(try examplePolicyText()))
    XCTAssertEqual(r.status, 1)
    XCTAssertTrue(r.stdout.contains("failed motd: /etc/motd is a directory"), r.stdout)
    XCTAssertEqual(lines(r.stdout).last, "policy gateway: kept=1 repaired=4 failed=1 skipped=1")
    XCTAssertTrue(box.exists(box.root + "/opt/app/app.conf"), "the other promises were still repaired")
  }

  func testRejectedPolicyExits2NamingFileLineAndColumn() throws {
    let path = try box.policy("{\"policy\": \"p\", \"promises\": [\n  {\"id\": \"a\", \"type\": \"file\", \"path\": \"relative\", \"content\": \"\"}\n]}")
    let r = try box.apply(path)
    XCTAssertEqual(r.status, 2)
    XCTAssertEqual(r.stdout, "")
    XCTAssertTrue(r.stderr.hasPrefix("edgeagent: policy rejected, nothing changed:\n"), r.stderr)
    XCTAssertTrue(r.stderr.contains("\(path):2:39: promise \"a\": key \"path\": "), r.stderr)
    XCTAssertEqual(box.rootEntries(), [])
    XCTAssertFalse(box.exists(box.state), "a rejected policy creates no state")
  }

  func testEveryIssueOfARejectedPolicyIsPrinted() throws {
    let path = try box.policy("""
      {"policy": "p", "promises": [
        {"id": "a", "type": "file", "path": "/a", "content": ""},
        {"id": "b", "type": "directory", "path": "/b/../c"},
        {"id": "c", "type": "file", "path": "/c", "content": "", "mode": 644},
        {"id": "a", "type": "file", "path": "/d", "content": ""}
      ]}
      """)
    let r = try box.apply(path)
    XCTAssertEqual(r.status, 2)
    let issues = lines(r.stderr).dropFirst()
    XCTAssertEqual(issues.count, 3, r.stderr)
    XCTAssertTrue(issues.allSatisfy { $0.hasPrefix(path + ":") })
  }

  func testMalformedJSONExits2() throws {
    let path = try box.policy("{\"policy\": \"p\",\n  // a comment\n  \"promises\": []}")
    let r = try box.apply(path)
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.contains("\(path):2:3: "), r.stderr)
  }

  func testBadRootExits2() throws {
    let path = try box.policy(try examplePolicyText())
    let r = try Edgeagent.run(["apply", path, "--root", box.base + "/nope", "--state", box.state])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.contains("no such directory"), r.stderr)
    XCTAssertFalse(box.exists(box.state))
  }

  func testStateThatCannotBeOpenedExits111() throws {
    let notADirectory = try box.policy("not a directory", name: "state-file")
    let path = try box.policy(try examplePolicyText())
    let r = try Edgeagent.run(["apply", path, "--root", box.root, "--state", notADirectory])
    XCTAssertEqual(r.status, 111, r.stderr)
    XCTAssertTrue(r.stderr.hasPrefix("edgeagent: apply: unable to open the state in \(notADirectory): "), r.stderr)
  }

  func testMissingPolicyFileIsBadInputNamingIt() throws {
    let r = try box.apply(box.base + "/missing.json")
    XCTAssertEqual(r.status, 2, r.stderr)
    XCTAssertTrue(r.stderr.contains(box.base + "/missing.json: No such file or directory"), r.stderr)
  }

  func testDryRunChangesNothingAndSaysSo() throws {
    let r = try box.apply(try box.policy(try examplePolicyText()), ["--dry-run"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(lines(r.stdout).contains("would-repair app-conf: would be created"), r.stdout)
    XCTAssertEqual(lines(r.stdout).last, "policy gateway: kept=1 repaired=5 failed=0 skipped=1 (dry run, nothing changed)")
    XCTAssertEqual(box.rootEntries(), [])
    XCTAssertFalse(box.exists(box.state))
  }
}
