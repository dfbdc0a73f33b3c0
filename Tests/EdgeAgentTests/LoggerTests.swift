@testable import EdgeSupervise
import XCTest

final class LoggerTests: XCTestCase {
  /// A policy name, a reason or a command's output with CR, ESC, BEL or a newline stays inside
  /// its quoted value: no forged line, no terminal escape on the console.
  func testControlBytesInValuesCannotForgeALineOrReachTheTerminal() {
    let log = Logger(json: false)
    let hostile = "ok\r\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"\u{1B}]0;x\u{07}\u{9B}2J\u{7F}"
    let line = log.line("error", "command failed: " + hostile, [("reason", hostile), ("id", "plain")], ts: "T")
    for c in line.unicodeScalars {
      XCTAssertFalse(c.value < 0x20 || (c.value >= 0x7F && c.value <= 0x9F), "U+\(String(c.value, radix: 16)) written raw")
    }
    XCTAssertEqual(line, #"ts=T level=error msg="command failed: ok\r\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"\x1b]0;x\x07\x9b2J\x7f" reason="ok\r\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"\x1b]0;x\x07\x9b2J\x7f" id=plain"#)
  }

  func testJSONLinesEscapeControlsToo() {
    let line = Logger(json: true).line("info", "a\u{1B}b\u{9B}", [], ts: "T")
    XCTAssertEqual(line, #"{"ts":"T","level":"info","msg":"a\u001bb\u009b"}"#)
  }
}
