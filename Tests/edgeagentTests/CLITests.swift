import Foundation
import XCTest

final class CLITests: XCTestCase {
  func testNoCommandPrintsUsageToStderrAndExits2() throws {
    let r = try Edgeagent.run([])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.hasPrefix("usage: edgeagent COMMAND"), r.stderr)
    XCTAssertEqual(r.stdout, "")
  }

  func testUnknownCommandIsNamedAndExits2() throws {
    let r = try Edgeagent.run(["frobnicate", "--now"])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.hasPrefix("edgeagent: unknown command \"frobnicate\"\n"), r.stderr)
    XCTAssertTrue(r.stderr.contains("usage: edgeagent COMMAND"))
    XCTAssertEqual(r.stdout, "")
  }

  func testHelpGoesToStdoutAndExits0() throws {
    for flag in ["help", "--help", "-h"] {
      let r = try Edgeagent.run([flag])
      XCTAssertEqual(r.status, 0, flag)
      XCTAssertTrue(r.stdout.hasPrefix("usage: edgeagent COMMAND"), flag)
      XCTAssertEqual(r.stderr, "", flag)
    }
  }

  func testUsageListsTheCommands() throws {
    let r = try Edgeagent.run(["help"])
    for c in ["apply POLICY", "status", "version", "help"] { XCTAssertTrue(r.stdout.contains("  " + c), c) }
  }

  func testEveryCommandHasHelpThatExits0() throws {
    for command in ["apply", "status", "run", "version", "bench"] {
      for flag in ["--help", "-h"] {
        let r = try Edgeagent.run([command, flag])
        XCTAssertEqual(r.status, 0, "\(command) \(flag): \(r.stderr)")
        XCTAssertTrue(r.stdout.hasPrefix("usage: edgeagent \(command)"), "\(command) \(flag): \(r.stdout)")
        XCTAssertEqual(r.stderr, "", "\(command) \(flag)")
      }
    }
  }

  func testHelpWinsOverOtherArguments() throws {
    let r = try Edgeagent.run(["apply", "/nonexistent.json", "--help"])
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(r.stdout.hasPrefix("usage: edgeagent apply"))
  }

  func testUnknownOptionIsAUsageError() throws {
    let r = try Edgeagent.run(["apply", "p.json", "--frob"])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.hasPrefix("edgeagent: unknown option --frob\n"), r.stderr)
    XCTAssertTrue(r.stderr.contains("usage: edgeagent apply"), "the command's own usage follows")
    XCTAssertEqual(r.stdout, "")
  }

  func testOptionWithoutItsValueIsAUsageError() throws {
    let r = try Edgeagent.run(["apply", "p.json", "--root"])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.hasPrefix("edgeagent: option --root needs a value\n"), r.stderr)
  }

  func testFlagGivenAValueIsAUsageError() throws {
    let r = try Edgeagent.run(["status", "--json=yes"])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.contains("unknown option --json"), r.stderr)
  }

  func testWrongNumberOfArgumentsIsAUsageError() throws {
    let cases: [([String], String)] = [
      (["apply"], "apply needs a POLICY file"),
      (["apply", "a.json", "b.json"], "apply takes one POLICY file"),
      (["status", "extra"], "status takes no arguments"),
      (["version", "extra"], "version takes no arguments"),
      (["run", "extra"], "run takes no arguments"),
    ]
    for (args, message) in cases {
      let r = try Edgeagent.run(args)
      XCTAssertEqual(r.status, 2, "\(args)")
      XCTAssertTrue(r.stderr.hasPrefix("edgeagent: \(message)\n"), "\(args): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains("usage: edgeagent \(args[0])"), "\(args)")
    }
  }
}
