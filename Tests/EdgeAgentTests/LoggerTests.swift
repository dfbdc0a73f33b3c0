import EdgeCore
import EdgeHost
@testable import EdgeSupervise
import Foundation
import XCTest

final class LoggerTests: XCTestCase {
  /// A policy name, a reason or a command's output with CR, ESC, BEL or a newline stays inside
  /// its quoted value: no forged line, no terminal escape on the console.
  func testControlBytesInValuesCannotForgeALineOrReachTheTerminal() {
    let log = Logger(json: false)
    let hostile = "ok\r\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"\u{1B}]0;x\u{07}\u{9B}2J\u{7F}"
    let line = log.line("error", "command failed: " + hostile, [("reason", .string(hostile)), ("id", .string("plain"))], ts: "T")
    for c in line.unicodeScalars {
      XCTAssertFalse(c.value < 0x20 || (c.value >= 0x7F && c.value <= 0x9F), "U+\(String(c.value, radix: 16)) written raw")
    }
    XCTAssertEqual(line, #"ts=T level=error msg="command failed: ok\r\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"\x1b]0;x\x07\x9b2J\x7f" reason="ok\r\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"\x1b]0;x\x07\x9b2J\x7f" id=plain"#)
  }

  func testJSONLinesEscapeControlsToo() {
    let line = Logger(json: true).line("info", "a\u{1B}b\u{9B}", [], ts: "T")
    XCTAssertEqual(line, #"{"ts":"T","level":"info","msg":"a\u001bb\u009b"}"#)
  }

  /// Numbers and booleans are JSON numbers and booleans, strings stay strings, a duration is a
  /// number of milliseconds with one decimal.
  func testJSONFieldsKeepTheirTypes() throws {
    let fields: [(String, LogValue)] = [("policy", .string("web")), ("kept", .int(10)), ("failed", .int(0)),
                                        ("pid1", .bool(false)), ("t_ms", .ms(12_345_678)), ("code", .string("7"))]
    let line = Logger(json: true).line("info", "converged", fields, ts: "T")
    let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    XCTAssertEqual(obj["policy"] as? String, "web")
    XCTAssertTrue(obj["kept"] is NSNumber && !(obj["kept"] is String), line)
    XCTAssertEqual((obj["kept"] as? NSNumber)?.intValue, 10)
    XCTAssertEqual((obj["failed"] as? NSNumber)?.intValue, 0)
    XCTAssertEqual(obj["pid1"] as? Bool, false)
    XCTAssertEqual(obj["t_ms"] as? Double, 12.3)
    XCTAssertEqual(obj["code"] as? String, "7", "a string of digits stays a string")
    XCTAssertEqual(line, #"{"ts":"T","level":"info","msg":"converged","policy":"web","kept":10,"failed":0,"pid1":false,"t_ms":12.3,"code":"7"}"#)
  }

  func testLogfmtWritesTypedValuesBare() {
    let line = Logger(json: false).line("info", "converged", [("policy", .string("my web")), ("kept", .int(-3)), ("ok", .bool(true)), ("ms", .ms(999_999))], ts: "T")
    XCTAssertEqual(line, #"ts=T level=info msg=converged policy="my web" kept=-3 ok=true ms=0.9"#)
    XCTAssertEqual(["\(LogValue.int(5))", "\(LogValue.string("a b"))", "\(LogValue.bool(false))"], ["5", "a b", "false"])
  }

  /// The string overload still writes strings (the Puller's fields, most messages).
  func testStringFieldsStayStringsInJSON() throws {
    let line = Logger(json: true).line("warn", "x", Logger(json: true).strings([("n", "5")]), ts: "T")
    let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    XCTAssertEqual(obj["n"] as? String, "5")
  }

  /// Timestamps carry milliseconds, always three digits, UTC; before 1970 too.
  func testTimestampsHaveMilliseconds() {
    XCTAssertEqual(isoTime(milliseconds: 1_764_000_000_042), "2025-11-24T16:00:00.042Z")
    XCTAssertEqual(isoTime(milliseconds: 1_764_000_000_000), "2025-11-24T16:00:00.000Z")
    XCTAssertEqual(isoTime(milliseconds: 1_764_000_000_999), "2025-11-24T16:00:00.999Z")
    XCTAssertEqual(isoTime(milliseconds: 5), "1970-01-01T00:00:00.005Z")
    XCTAssertEqual(isoTime(milliseconds: -1), "1969-12-31T23:59:59.999Z")
  }

  /// The line a real emit writes: its ts matches the millisecond pattern.
  func testEmittedLinesCarryAMillisecondTimestamp() throws {
    let ns = wallClockNanoseconds()
    let ts = isoTime(milliseconds: ns / 1_000_000)
    let re = try NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)
    XCTAssertEqual(re.numberOfMatches(in: ts, range: NSRange(ts.startIndex..., in: ts)), 1, ts)
  }
}
