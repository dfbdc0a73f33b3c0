import Foundation
import XCTest

/// What an operator checks before and around a change: `--dry-run`'s diffs, the exit codes of
/// `--detailed-exitcodes` that CI reads for drift, and that `--root` alone keeps the state in
/// the sandbox.
final class DryRunAndExitCodeTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws { box = try Sandbox() }
  override func tearDown() { box.remove() }

  private func write(_ path: String, _ text: String) throws {
    try FileManager.default.createDirectory(atPath: (box.root + path as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: box.root + path))
  }

  private func read(_ path: String) throws -> String {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: box.root + path)), as: UTF8.self)
  }

  private func conf(_ content: String, extra: String = "") throws -> String {
    let c = String(decoding: try JSONSerialization.data(withJSONObject: [content], options: [.fragmentsAllowed]), as: UTF8.self)
    return try box.policy("""
      {"policy": "p", "promises": [
        {"id": "conf", "type": "file", "path": "/etc/app.conf", "content": \(c.dropFirst().dropLast()), "mode": "0600"}\(extra)
      ]}
      """)
  }

  func testDryRunShowsTheContentDiffAndModeAndChangesNothing() throws {
    try write("/etc/app.conf", "port=8080\nlog=/var/log/app.log\nuser=app\n")
    let before = try read("/etc/app.conf")
    let r = try box.apply(try conf("port=9090\nlog=/var/log/app.log\nuser=app\n"), ["--dry-run"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("would-repair conf: would be: content replaced; mode 0644 -> 0600\n"), r.stdout)
    XCTAssertTrue(r.stdout.contains("""
      --- /etc/app.conf
      +++ /etc/app.conf (promised)
      @@ -1,3 +1,3 @@
      -port=8080
      +port=9090
       log=/var/log/app.log
       user=app

      """), r.stdout)
    XCTAssertEqual(try read("/etc/app.conf"), before, "a dry run changes nothing")
    XCTAssertFalse(box.exists(box.state), "nor the state")
  }

  func testDryRunNamesABinaryFileAndEscapesControlCharacters() throws {
    try write("/etc/app.conf", "a\u{1b}[31m\n")
    let r = try box.apply(try conf("b\n"), ["--dry-run"])
    XCTAssertTrue(r.stdout.contains("-a\\x1b[31m\n+b\n"), r.stdout)
    XCTAssertFalse(r.stdout.contains("\u{1b}"), "file content never reaches the terminal raw")
    try write("/etc/app.conf", "bin\0ary")
    let b = try box.apply(try conf("text\n"), ["--dry-run"])
    XCTAssertTrue(b.stdout.contains("Binary file /etc/app.conf differs (7 -> 5 bytes)\n"), b.stdout)
  }

  func testDryRunAfterADriftShowsTheDiffToo() throws {
    let path = try conf("one\ntwo\n")
    XCTAssertEqual(try box.apply(path).status, 0)
    XCTAssertEqual(try box.apply(path).status, 0)
    try write("/etc/app.conf", "one\nTWO\n")
    let r = try box.apply(path, ["--dry-run"])
    XCTAssertTrue(r.stdout.contains("@@ -1,2 +1,2 @@\n one\n-TWO\n+two\n"), r.stdout)
    XCTAssertEqual(try read("/etc/app.conf"), "one\nTWO\n")
  }

  func testDetailedExitCodesTellKeptRepairedFailedAndBoth() throws {
    let path = try conf("x\n")
    XCTAssertEqual(try box.apply(path, ["--detailed-exitcodes", "--dry-run"]).status, 2, "would repair")
    XCTAssertEqual(try box.apply(path, ["--detailed-exitcodes"]).status, 2, "repaired")
    XCTAssertEqual(try box.apply(path, ["--detailed-exitcodes"]).status, 0, "all kept")
    XCTAssertEqual(try box.apply(path).status, 0, "without the flag, as documented")

    let failing = #", {"id": "dir-in-the-way", "type": "file", "path": "/etc/blocked", "content": "x"}"#
    try FileManager.default.createDirectory(atPath: box.root + "/etc/blocked", withIntermediateDirectories: true)
    let kept = try conf("x\n", extra: failing)
    XCTAssertEqual(try box.apply(kept, ["--detailed-exitcodes"]).status, 4, "a failure, nothing repaired")
    try write("/etc/app.conf", "drifted\n")
    XCTAssertEqual(try box.apply(kept, ["--detailed-exitcodes"]).status, 6, "a repair and a failure")
    XCTAssertEqual(try box.apply(kept).status, 1, "without the flag: some failed")

    let bad = try box.policy(#"{"policy": "p", "promises": [{"id": "a", "type": "file"}]}"#, name: "bad.json")
    XCTAssertEqual(try box.apply(bad, ["--detailed-exitcodes"]).status, 1, "a rejected policy is 1, never 2")
    XCTAssertEqual(try box.apply(bad).status, 2, "without the flag, as documented")
  }

  func testRootWithoutStateKeepsTheStateInTheSandbox() throws {
    let path = try conf("x\n")
    let r = try Edgeagent.run(["apply", path, "--root", box.root])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(box.exists(box.root + "/var/lib/edgeagent/data.mdb"), "the state is under the root")
    let s = try Edgeagent.run(["status", "--root", box.root])
    XCTAssertEqual(s.status, 0, s.stderr)
    XCTAssertTrue(s.stdout.contains("conf  file  repaired"), s.stdout)
  }
}
