import XCTest
@testable import EdgeCore

final class ClassExpressionTests: XCTestCase {
  private func eval(_ text: String, _ classes: Set<String>, file: StaticString = #filePath, line: UInt = #line) -> Bool {
    do {
      return try ClassExpression(parsing: text).evaluate(classes: classes)
    } catch {
      XCTFail("\(text): \(error)", file: file, line: line)
      return false
    }
  }

  private func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ClassExpressionError? {
    do {
      let e = try ClassExpression(parsing: text)
      XCTFail("\(text) parsed as \(e.ops)", file: file, line: line)
      return nil
    } catch {
      return error
    }
  }

  /// Every assignment of `names` to true/false.
  private func assignments(_ names: [String]) -> [Set<String>] {
    (0..<(1 << names.count)).map { bits in Set(names.enumerated().filter { bits & (1 << $0.offset) != 0 }.map(\.element)) }
  }

  func testSingleName() {
    XCTAssertTrue(eval("linux", ["linux"]))
    XCTAssertFalse(eval("linux", ["x86_64"]))
  }

  func testAnyIsAlwaysTrue() {
    XCTAssertTrue(eval("any", []))
    XCTAssertFalse(eval("!any", []))
  }

  func testAndBindsTighterThanOr() {
    for s in assignments(["a", "b", "c"]) {
      let (a, b, c) = (s.contains("a"), s.contains("b"), s.contains("c"))
      XCTAssertEqual(eval("a | b & c", s), a || (b && c), "\(s)")
      XCTAssertEqual(eval("a & b | c", s), (a && b) || c, "\(s)")
    }
  }

  func testParenthesesOverridePrecedence() {
    for s in assignments(["a", "b", "c"]) {
      let (a, b, c) = (s.contains("a"), s.contains("b"), s.contains("c"))
      XCTAssertEqual(eval("(a | b) & c", s), (a || b) && c, "\(s)")
      XCTAssertEqual(eval("a & (b | c)", s), a && (b || c), "\(s)")
      XCTAssertEqual(eval("((a))", s), a, "\(s)")
    }
  }

  func testNotBindsTighterThanAnd() {
    for s in assignments(["a", "b"]) {
      let (a, b) = (s.contains("a"), s.contains("b"))
      XCTAssertEqual(eval("!a & b", s), !a && b, "\(s)")
      XCTAssertEqual(eval("!(a & b)", s), !(a && b), "\(s)")
      XCTAssertEqual(eval("!!a", s), a, "\(s)")
      XCTAssertEqual(eval("a & !b | !a & b", s), a != b, "\(s)")
    }
  }

  func testDotMeansAnd() {
    for s in assignments(["a", "b", "c"]) {
      XCTAssertEqual(eval("a.b", s), eval("a & b", s), "\(s)")
      XCTAssertEqual(eval("a.b|c", s), eval("a & b | c", s), "\(s)")
    }
  }

  func testDoubledOperatorsAreAccepted() {
    for s in assignments(["a", "b", "c"]) {
      XCTAssertEqual(eval("a && b || c", s), eval("a & b | c", s), "\(s)")
    }
  }

  func testWhitespaceIsIgnored() {
    XCTAssertTrue(eval("  role_router\t&  ! arm ", ["role_router"]))
  }

  func testOperatorsAreLeftAssociativeAndLong() {
    let names = (0..<40).map { "c\($0)" }
    XCTAssertTrue(eval(names.joined(separator: " | "), ["c39"]))
    XCTAssertFalse(eval(names.joined(separator: " | "), ["zz"]))
    XCTAssertTrue(eval(names.joined(separator: " & "), Set(names)))
    XCTAssertFalse(eval(names.joined(separator: " & "), Set(names.dropLast())))
  }

  func testDeepRightNestingEvaluatesCorrectly() {
    // x0 | (x1 | (x2 | ... x40)): the evaluation stack holds one value per open level.
    let n = 40
    var text = "x\(n)"
    for i in (0..<n).reversed() { text = "x\(i) | (\(text))" }
    XCTAssertTrue(eval(text, ["x\(n)"]))
    XCTAssertTrue(eval(text, ["x0"]))
    XCTAssertFalse(eval(text, ["y"]))
    var andText = "x\(n)"
    for i in (0..<n).reversed() { andText = "x\(i) & (\(andText))" }
    let all = Set((0...n).map { "x\($0)" })
    XCTAssertTrue(eval(andText, all))
    XCTAssertFalse(eval(andText, all.subtracting(["x\(n)"])))
    XCTAssertFalse(eval(andText, all.subtracting(["x0"])))
  }

  func testNestingPastTheLimitIsRejected() {
    let deep = String(repeating: "(", count: 200) + "a" + String(repeating: ")", count: 200)
    XCTAssertTrue(parseError(deep)?.message.contains("too deeply nested") ?? false)
  }

  func testEvaluateTakesAClosure() throws {
    var asked: [String] = []
    let e = try ClassExpression(parsing: "a & b")
    XCTAssertFalse(e.evaluate { asked.append($0); return $0 == "b" })
    XCTAssertEqual(Set(asked), ["a", "b"])
  }

  func testEmptyExpressionIsAnError() {
    let e = parseError("   ")
    XCTAssertEqual(e?.message, "empty expression")
    XCTAssertEqual(e?.offset, 0)
  }

  func testMissingOperandIsAnErrorAtItsOffset() {
    let e = parseError("a &")
    XCTAssertEqual(e?.offset, 3)
    XCTAssertTrue(e?.message.contains("expected a class name") ?? false)
    XCTAssertEqual(parseError("a | | b")?.offset, 4)
    XCTAssertEqual(parseError("!")?.offset, 1)
    XCTAssertEqual(parseError("& a")?.offset, 0)
  }

  func testUnclosedParenthesisIsAnError() {
    let e = parseError("(a | b")
    XCTAssertEqual(e?.offset, 6)
    XCTAssertEqual(e?.message, "expected ')'")
  }

  func testStrayCharactersAreErrors() {
    XCTAssertEqual(parseError("a b")?.offset, 2)
    XCTAssertEqual(parseError("a)")?.offset, 1)
    XCTAssertEqual(parseError("a - b")?.offset, 2)
    XCTAssertEqual(parseError("()")?.offset, 1)
    XCTAssertEqual(parseError("host-name")?.offset, 4)
  }

  func testNonASCIIIsAnErrorNotACrash() {
    XCTAssertEqual(parseError("a & é")?.offset, 4)
  }

  func testErrorDescriptionNamesTheOffset() {
    XCTAssertEqual(parseError("(a")?.description, "expected ')' at offset 2")
  }

  func testCanonicalClassNameMapsOtherCharactersToUnderscore() {
    XCTAssertEqual(canonicalClassName("edge-01.example.com"), "edge_01_example_com")
    XCTAssertEqual(canonicalClassName("x86_64"), "x86_64")
    XCTAssertEqual(canonicalClassName("é"), "__", "each UTF-8 byte is mapped")
  }

  func testCanonicalNamesAreValidExpressions() {
    let name = canonicalClassName("my host.local")
    XCTAssertTrue(eval(name, [name]))
  }
}
