import XCTest
@testable import EdgeCore

final class JSONWriterTests: XCTestCase {
  func testNestedContainersGetCommasOnlyBetweenItems() {
    var w = JSONWriter()
    w.beginObject()
    w.member("a", Int64(1))
    w.key("list")
    w.beginArray()
    w.int(-2)
    w.bool(true)
    w.null()
    w.beginObject()
    w.endObject()
    w.beginArray()
    w.endArray()
    w.endArray()
    w.member("b", false)
    w.member("s", "x")
    w.endObject()
    XCTAssertEqual(w.text, #"{"a":1,"list":[-2,true,null,{},[]],"b":false,"s":"x"}"#)
  }

  func testStringsAreEscapedSoTheStrictReaderReadsThemBack() throws {
    let nasty = "quote\" backslash\\ nl\n cr\r tab\t bell\u{07} nul\u{0} unit\u{1F} é € 😀 </script>"
    var w = JSONWriter()
    w.beginObject()
    w.member(nasty, nasty)
    w.endObject()
    XCTAssertFalse(w.bytes.contains { $0 < 0x20 }, "no raw control characters")
    let doc = try JSONReader.parse(w.bytes)
    XCTAssertEqual(doc.members?.first?.key, nasty)
    XCTAssertEqual(doc.members?.first?.value.string, nasty)
  }

  func testControlCharactersUseUnicodeEscapes() {
    var w = JSONWriter()
    w.string("\u{01}\u{1F}")
    XCTAssertEqual(w.text, #""\u0001\u001f""#)
  }

  func testIntegersAtTheLimitsAreExact() throws {
    var w = JSONWriter()
    w.beginArray()
    w.int(.max)
    w.int(.min)
    w.endArray()
    let a = try XCTUnwrap(try JSONReader.parse(w.bytes).array)
    XCTAssertEqual(a.map(\.integer), [Int64.max, Int64.min])
  }

  /// JSON allows DEL and C1 raw; they are escaped so `--json` output on a terminal cannot drive it.
  func testDELAndC1AreEscaped() throws {
    var w = JSONWriter()
    w.string("a\u{7F}b\u{9B}2Jc\u{85}é\u{80}")
    XCTAssertEqual(w.text, #""a\u007fb\u009b2Jc\u0085é\u0080""#)
    XCTAssertEqual(try JSONReader.parse(w.bytes).string, "a\u{7F}b\u{9B}2Jc\u{85}é\u{80}")
  }
}
