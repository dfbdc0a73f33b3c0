import XCTest
@testable import EdgeCore

final class EscapedTextTests: XCTestCase {
  func testPlainTextComesBackAsIs() {
    for s in ["", "/etc/app.conf", "é € 😀 \u{A0}", "a=b \"q\""] { XCTAssertEqual(escapedText(s), s) }
  }

  func testEveryControlCharacterIsEscaped() {
    XCTAssertEqual(escapedText("a\nb\rc\td"), #"a\nb\rc\td"#)
    XCTAssertEqual(escapedText("\u{1B}[2J\u{07}\u{0}\u{7F}"), #"\x1b[2J\x07\x00\x7f"#)
    // C1 controls as code points (U+009B is a CSI on many terminals), not the bytes of other characters.
    XCTAssertEqual(escapedText("x\u{9B}31my\u{85}\u{80}\u{9F}"), #"x\x9b31my\x85\x80\x9f"#)
    XCTAssertEqual(escapedText("\u{A0}\u{100}\u{2028}"), "\u{A0}\u{100}\u{2028}")
  }

  func testNoControlByteSurvives() {
    var all = ""
    for v in 0..<0x100 { all.unicodeScalars.append(Unicode.Scalar(UInt8(v))) }
    let out = escapedText(all)
    for c in out.unicodeScalars {
      XCTAssertFalse(c.value < 0x20 || (c.value >= 0x7F && c.value <= 0x9F), "U+\(String(c.value, radix: 16)) left raw")
    }
  }

  func testBackslashIsEscapedSoEscapesAreUnambiguous() {
    XCTAssertEqual(escapedText(#"a\nb"#), #"a\\nb"#)
    XCTAssertNotEqual(escapedText(#"a\nb"#), escapedText("a\nb"))
  }

  func testQuoteIsEscapedOnlyWhenAsked() {
    XCTAssertEqual(escapedText(#"say "hi""#, quote: true), #"say \"hi\""#)
    XCTAssertEqual(escapedText(#"say "hi""#), #"say "hi""#)
  }
}
