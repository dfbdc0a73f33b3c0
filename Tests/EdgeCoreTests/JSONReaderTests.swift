import XCTest
@testable import EdgeCore

final class JSONReaderTests: XCTestCase {
  private func parse(_ text: String, maxDepth: Int = JSONReader.defaultMaxDepth) throws -> JSONNode {
    try JSONReader.parse(Array(text.utf8), maxDepth: maxDepth)
  }

  /// The error for `bytes`, failing the test when they parse.
  private func error(_ bytes: [UInt8], maxDepth: Int = JSONReader.defaultMaxDepth,
                     file: StaticString = #filePath, line: UInt = #line) -> JSONError? {
    do {
      _ = try JSONReader.parse(bytes, maxDepth: maxDepth)
      XCTFail("expected a JSON error for \(String(decoding: bytes, as: UTF8.self))", file: file, line: line)
      return nil
    } catch {
      return error
    }
  }

  private func error(_ text: String, maxDepth: Int = JSONReader.defaultMaxDepth,
                     file: StaticString = #filePath, line: UInt = #line) -> JSONError? {
    error(Array(text.utf8), maxDepth: maxDepth, file: file, line: line)
  }

  private func assertError(_ e: JSONError?, line l: Int, column c: Int, contains text: String,
                           file: StaticString = #filePath, line: UInt = #line) {
    guard let e else { return }
    XCTAssertEqual(e.position, SourcePosition(line: l, column: c), "\(e)", file: file, line: line)
    XCTAssertTrue(e.message.contains(text), "message \"\(e.message)\" lacks \"\(text)\"", file: file, line: line)
  }

  // MARK: valid documents

  func testValidDocumentKeepsValuesAndMemberOrder() throws {
    let doc = try parse(#"{"b": [1, -2.5e3, 0, -0, true, false, null], "a": {"s": "x"}, "e": [], "o": {}}"#)
    guard let members = doc.members else { return XCTFail("not an object") }
    XCTAssertEqual(members.map(\.key), ["b", "a", "e", "o"])
    let items = try XCTUnwrap(members[0].value.array)
    XCTAssertEqual(items.count, 7)
    XCTAssertEqual(items[0].integer, 1)
    if case .number(let t) = items[1].value { XCTAssertEqual(t, "-2.5e3") } else { XCTFail("not a number") }
    XCTAssertNil(items[1].integer, "a number with an exponent is not an integer")
    XCTAssertEqual(items[2].integer, 0)
    XCTAssertEqual(items[3].integer, 0)
    XCTAssertEqual(items[4].bool, true)
    XCTAssertEqual(items[5].bool, false)
    XCTAssertEqual(items[6].typeName, "null")
    XCTAssertEqual(members[1].value.members?.first?.value.string, "x")
    XCTAssertEqual(members[2].value.array?.count, 0)
    XCTAssertEqual(members[3].value.members?.count, 0)
  }

  func testScalarDocumentsAndSurroundingWhitespace() throws {
    XCTAssertEqual(try parse(" \t\r\n 42 \n").integer, 42)
    XCTAssertEqual(try parse("\"s\"").string, "s")
    XCTAssertEqual(try parse("true").bool, true)
    XCTAssertEqual(try parse("null").typeName, "null")
  }

  func testEscapesDecodeToTheirCharacters() throws {
    let doc = try parse(#"["\"\\\/\b\f\n\r\t", "\u0041\u00e9\u20ac", "\ud83d\ude00", "plain\u0000nul"]"#)
    let a = try XCTUnwrap(doc.array)
    XCTAssertEqual(a[0].string, "\"\\/\u{08}\u{0C}\n\r\t")
    XCTAssertEqual(a[1].string, "Aé€")
    XCTAssertEqual(a[2].string, "😀")
    XCTAssertEqual(a[3].string.map { Array($0.utf8) }, Array("plain".utf8) + [0] + Array("nul".utf8))
  }

  func testRawMultibyteUTF8IsAccepted() throws {
    XCTAssertEqual(try parse("[\"héllo €𝄞\"]").array?.first?.string, "héllo €𝄞")
  }

  func testNodesRememberLineAndColumn() throws {
    let doc = try parse("{\n  \"a\": 1,\n  \"bb\":   [true,\n    \"x\"]\n}")
    XCTAssertEqual(doc.position, SourcePosition(line: 1, column: 1))
    let m = try XCTUnwrap(doc.members)
    XCTAssertEqual(m[0].keyPosition, SourcePosition(line: 2, column: 3))
    XCTAssertEqual(m[0].value.position, SourcePosition(line: 2, column: 8))
    XCTAssertEqual(m[1].keyPosition, SourcePosition(line: 3, column: 3))
    XCTAssertEqual(m[1].value.position, SourcePosition(line: 3, column: 11))
    let items = try XCTUnwrap(m[1].value.array)
    XCTAssertEqual(items[0].position, SourcePosition(line: 3, column: 12))
    XCTAssertEqual(items[1].position, SourcePosition(line: 4, column: 5))
  }

  func testCRLFLineEndingsCountLines() throws {
    let doc = try parse("{\r\n\"a\": 1,\r\n\"b\": 2\r\n}")
    XCTAssertEqual(doc.members?[1].keyPosition, SourcePosition(line: 3, column: 1))
  }

  func testIntegerRejectsFractionsAndOverflow() throws {
    let a = try XCTUnwrap(try parse("[1.0, 9223372036854775807, 9223372036854775808, -9223372036854775808]").array)
    XCTAssertNil(a[0].integer)
    XCTAssertEqual(a[1].integer, Int64.max)
    XCTAssertNil(a[2].integer)
    XCTAssertEqual(a[3].integer, Int64.min)
  }

  // MARK: strictness, one rule at a time

  func testTrailingCommaInObjectIsRejectedAtTheBrace() {
    assertError(error("{\"a\": 1,}"), line: 1, column: 9, contains: "trailing comma")
  }

  func testTrailingCommaInArrayIsRejectedAtTheBracket() {
    assertError(error("[1,\n 2,\n]"), line: 3, column: 1, contains: "trailing comma")
  }

  func testLeadingZeroIsRejected() {
    assertError(error("[01]"), line: 1, column: 3, contains: "leading zero")
    assertError(error("{\"m\":\n  -007}"), line: 2, column: 5, contains: "leading zero")
  }

  func testMalformedNumbersAreRejected() {
    assertError(error("[1.]"), line: 1, column: 4, contains: "after '.'")
    assertError(error("[1e]"), line: 1, column: 4, contains: "exponent")
    assertError(error("[-]"), line: 1, column: 3, contains: "expected a digit")
    assertError(error("[.5]"), line: 1, column: 2, contains: "expected a value")
    assertError(error("[+1]"), line: 1, column: 2, contains: "expected a value")
  }

  func testLineCommentIsRejected() {
    assertError(error("{\"a\": 1 // why\n}"), line: 1, column: 9, contains: "'/'")
  }

  func testBlockCommentIsRejected() {
    assertError(error("/* policy */ {}"), line: 1, column: 1, contains: "'/'")
    assertError(error("{\n  /* x */ \"a\": 1}"), line: 2, column: 3, contains: "expected a string key")
  }

  func testHashCommentIsRejected() {
    assertError(error("[1]\n# trailing"), line: 2, column: 1, contains: "after the document")
  }

  func testRawControlCharacterInStringIsRejected() {
    assertError(error("[\"a\tb\"]"), line: 1, column: 4, contains: "control character 0x09")
    assertError(error("{\"k\":\n \"line\nbreak\"}"), line: 2, column: 7, contains: "control character 0x0a")
    assertError(error([UInt8(ascii: "\""), 0x01, UInt8(ascii: "\"")]), line: 1, column: 2, contains: "0x01")
  }

  func testControlCharacterAfterAnEscapeIsRejected() {
    assertError(error("[\"\\n\u{1F}\"]"), line: 1, column: 5, contains: "control character 0x1f")
  }

  func testInvalidUTF8IsRejectedAtTheBadByte() {
    // ["a<FF>b"]: the 0xFF is the 4th byte.
    assertError(error([0x5B, 0x22, 0x61, 0xFF, 0x62, 0x22, 0x5D]), line: 1, column: 4, contains: "invalid UTF-8")
  }

  func testInvalidUTF8AfterAnEscapeIsRejectedAtTheBadByte() {
    // ["\n<C3>"] then a quote: 0xC3 starts a 2-byte sequence that the quote breaks.
    assertError(error([0x5B, 0x22, 0x5C, 0x6E, 0xC3, 0x22, 0x5D]), line: 1, column: 5, contains: "invalid UTF-8")
  }

  func testOverlongAndSurrogateUTF8AreRejected() {
    // Overlong '/' (C0 AF), a UTF-8-encoded surrogate (ED A0 80), and a code point past U+10FFFF (F4 90 80 80).
    for bad: [UInt8] in [[0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80]] {
      let doc: [UInt8] = [0x22, 0x78] + bad + [0x22]
      assertError(error(doc), line: 1, column: 3, contains: "invalid UTF-8")
    }
  }

  func testTruncatedUTF8SequenceIsRejected() {
    assertError(error([0x22, 0xE2, 0x82, 0x22]), line: 1, column: 2, contains: "invalid UTF-8")
  }

  func testLoneHighSurrogateIsRejected() {
    let e = error(#"["\ud800"]"#)
    XCTAssertEqual(e?.position.line, 1)
    // The position falls inside the \u escape (columns 3-8).
    XCTAssertTrue((3...8).contains(e?.position.column ?? 0), "\(String(describing: e))")
    XCTAssertTrue(e?.message.contains("lone high surrogate") ?? false)
  }

  func testHighSurrogateFollowedByANonSurrogateIsRejected() {
    let e = error(#"["\ud800\u0041"]"#)
    XCTAssertTrue(e?.message.contains("invalid low surrogate") ?? false, "\(String(describing: e))")
    XCTAssertTrue((3...14).contains(e?.position.column ?? 0))
  }

  func testLoneLowSurrogateIsRejected() {
    let e = error("[\n\"\\udc00\"]")
    XCTAssertEqual(e?.position.line, 2)
    XCTAssertTrue((2...7).contains(e?.position.column ?? 0), "\(String(describing: e))")
    XCTAssertTrue(e?.message.contains("lone low surrogate") ?? false)
  }

  func testBadEscapesAreRejected() {
    assertError(error(#"["\x"]"#), line: 1, column: 4, contains: "invalid escape")
    assertError(error(#"["\u12G4"]"#), line: 1, column: 7, contains: "4 hex digits")
    assertError(error(#"["\u12"]"#), line: 1, column: 7, contains: "4 hex digits")
  }

  func testDuplicateKeyNamesBothPlaces() {
    let e = error("{\"mode\": \"0644\",\n  \"mode\": \"0600\"}")
    assertError(e, line: 2, column: 3, contains: "duplicate key \"mode\"")
    XCTAssertTrue(e?.message.contains("first at 1:2") ?? false, "\(String(describing: e))")
  }

  func testDuplicateKeysInDifferentObjectsAreFine() throws {
    XCTAssertNoThrow(try parse(#"[{"a": 1}, {"a": 2, "b": {"a": 3}}]"#))
  }

  func testEscapedDuplicateKeyIsStillADuplicate() {
    assertError(error(#"{"ab": 1, "a\u0062": 2}"#), line: 1, column: 11, contains: "duplicate key \"ab\"")
  }

  func testDepthLimitAcceptsExactlyMaxDepth() throws {
    let depth = JSONReader.defaultMaxDepth
    let ok = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    XCTAssertNoThrow(try parse(ok))
    let tooDeep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
    assertError(error(tooDeep), line: 1, column: depth + 1, contains: "nesting deeper than \(depth)")
  }

  func testDepthLimitCountsObjectsAndArraysTogether() {
    assertError(error(#"{"a": [{"b": [1]}]}"#, maxDepth: 3), line: 1, column: 14, contains: "nesting deeper than 3")
  }

  func testHostileNestingFailsWithoutExhaustingTheStack() {
    let hostile = String(repeating: "[", count: 1_000_000)
    assertError(error(hostile), line: 1, column: JSONReader.defaultMaxDepth + 1, contains: "nesting")
  }

  func testByteOrderMarkIsRejected() {
    assertError(error([0xEF, 0xBB, 0xBF] + Array("{}".utf8)), line: 1, column: 1, contains: "byte order mark")
  }

  func testEmptyAndWhitespaceOnlyDocumentsAreRejected() {
    assertError(error(""), line: 1, column: 1, contains: "empty document")
    assertError(error("  \n "), line: 2, column: 2, contains: "empty document")
  }

  func testTrailingGarbageAfterTheDocumentIsRejected() {
    assertError(error("{} {}"), line: 1, column: 4, contains: "after the document")
  }

  func testUnterminatedInputIsRejected() {
    assertError(error("{\"a\": 1"), line: 1, column: 8, contains: "end of input")
    assertError(error("[1, 2"), line: 1, column: 6, contains: "end of input")
    assertError(error("\"abc"), line: 1, column: 5, contains: "unterminated string")
    XCTAssertNotNil(error("[\"ab\\"))
    assertError(error("{\"a\" 1}"), line: 1, column: 6, contains: "expected ':'")
    assertError(error("{\"a\": 1 \"b\": 2}"), line: 1, column: 9, contains: "expected ',' or '}'")
  }

  func testMisspelledLiteralIsRejected() {
    assertError(error("[tru]"), line: 1, column: 2, contains: "expected true")
    assertError(error("[nul"), line: 1, column: 2, contains: "expected null")
    assertError(error("[True]"), line: 1, column: 2, contains: "expected a value")
  }

  func testSingleQuotedStringsAndBareKeysAreRejected() {
    assertError(error("{'a': 1}"), line: 1, column: 2, contains: "expected a string key")
    assertError(error("{a: 1}"), line: 1, column: 2, contains: "expected a string key")
  }

  func testErrorDescriptionIsLineColonColumnThenMessage() {
    let e = error("[1,]")
    XCTAssertEqual(e?.description, "1:4: trailing comma before ']'")
  }

  func testMoreValuesThanTheLimitAreRejectedWhereTheLimitIsPassed() {
    let doc = Array("[1, 2, 3, 4]".utf8)
    XCTAssertNoThrow(try JSONReader.parse(doc, maxValues: 5))
    XCTAssertThrowsError(try JSONReader.parse(doc, maxValues: 4)) { e in
      guard let e = e as? JSONError else { return XCTFail("\(e)") }
      XCTAssertEqual(e.position, SourcePosition(line: 1, column: 11))
      XCTAssertTrue(e.message.hasPrefix("more than 4 values"), e.message)
    }
  }

  // MARK: streaming an array

  private struct Recorder: JSONElementSink {
    var seen: [String] = []
    mutating func object(_ members: ArraySlice<JSONMember>, at position: SourcePosition) {
      seen.append("\(position) {" + members.map { $0.key + ":" + ($0.value.string ?? $0.value.typeName) }.joined(separator: ",") + "}")
    }
    mutating func other(_ node: JSONNode) { seen.append("\(node.position) \(node.string ?? node.typeName)") }
  }

  func testStreamedElementsArriveInOrderWithTheirPositionsAndAreNotKept() throws {
    let text = "{\"a\": [{\"x\": \"1\"}], \"list\": [{\"k\": \"v\", \"n\": {\"list\": [1]}},\n \"s\", {}, [2]], \"z\": {\"list\": [3]}}"
    let (root, sink) = try JSONReader.parse(Array(text.utf8), streaming: ["list"], into: Recorder())
    XCTAssertEqual(sink.seen, ["1:30 {k:v,n:object}", "2:2 s", "2:7 {}", "2:11 array"])
    let members = try XCTUnwrap(root.members)
    XCTAssertEqual(members.map(\.key), ["a", "list", "z"])
    XCTAssertEqual(members[0].value.array?.count, 1, "another key's array is kept")
    XCTAssertEqual(members[1].value.array?.count, 0, "the streamed array is left empty")
    XCTAssertEqual(members[1].value.position, SourcePosition(line: 1, column: 29))
    XCTAssertEqual(members[2].value.members?.first?.value.array?.count, 1, "a nested key of that name is kept")
  }

  func testAStreamedArrayIsFoundByItsPathOfKeys() throws {
    let text = #"{"list": [1], "a": {"list": [2], "b": {"list": [3]}}, "b": {"list": [4]}}"#
    let (root, sink) = try JSONReader.parse(Array(text.utf8), streaming: ["a", "list"], into: Recorder())
    XCTAssertEqual(sink.seen, ["1:30 number"])
    let members = try XCTUnwrap(root.members)
    XCTAssertEqual(members[0].value.array?.count, 1)
    XCTAssertEqual(members[1].value.members?[0].value.array?.count, 0)
    XCTAssertEqual(members[1].value.members?[1].value.members?[0].value.array?.count, 1)
    XCTAssertEqual(members[2].value.members?[0].value.array?.count, 1)
  }

  func testStreamingFindsTheSameErrorsAtTheSamePlaces() {
    let bad = [
      "{\"list\": [{\"a\": 1,}]}", "{\"list\": [{\"a\": 1, \"a\": 2}]}", "{\"list\": [1,]}", "{\"list\": [1 2]}",
      "{\"list\": [", "{\"list\": [{", "{\"list\": [\"\\q\"]}", "{\"list\": [{}]} x", "{\"list\": [[[[1]]]]}",
      "{\"list\": [1, 2, 3, 4, 5, 6]}",
    ]
    for text in bad {
      let tooMany = text.hasSuffix("5, 6]}")
      let plain = tooMany ? nil : error(text, maxDepth: 4)
      var streamed: JSONError? = nil
      do {
        _ = try JSONReader.parse(Array(text.utf8), streaming: ["list"], into: Recorder(), maxDepth: 4, maxValues: 6)
      } catch {
        streamed = error
      }
      if tooMany {
        XCTAssertEqual(streamed?.message, "more than 6 values: too large for this agent", text)
      } else {
        XCTAssertEqual(streamed, plain, text)
      }
    }
  }
}
