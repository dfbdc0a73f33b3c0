import XCTest
@testable import EdgeCore

final class DigestTests: XCTestCase {
  private let abcHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

  func testHexRoundTrips() throws {
    let d = try XCTUnwrap(Digest(hex: abcHex))
    XCTAssertEqual(d.hex, abcHex)
    XCTAssertEqual(d.description, "sha256:" + abcHex)
  }

  func testUppercaseHexIsAccepted() {
    XCTAssertEqual(Digest(hex: abcHex.uppercased()), Digest(hex: abcHex))
  }

  func testHexIsBigEndianWords() {
    let d = Digest(hex: abcHex)
    XCTAssertEqual(d?.w0, 0xba78_16bf_8f01_cfea)
    XCTAssertEqual(d?.w3, 0xb410_ff61_f200_15ad)
  }

  func testBadHexIsRejected() {
    XCTAssertNil(Digest(hex: String(abcHex.dropLast())))
    XCTAssertNil(Digest(hex: abcHex + "0"))
    XCTAssertNil(Digest(hex: "g" + abcHex.dropFirst()))
    XCTAssertNil(Digest(hex: ""))
    XCTAssertNil(Digest(hex: " " + abcHex.dropFirst()))
  }

  func testBytesAreInPrintedOrder() throws {
    let d = try XCTUnwrap(Digest(hex: abcHex))
    let bytes = d.withBytes { Array($0) }
    XCTAssertEqual(bytes.count, Digest.byteCount)
    XCTAssertEqual(Array(bytes.prefix(4)), [0xba, 0x78, 0x16, 0xbf])
    XCTAssertEqual(bytes.withUnsafeBytes { Digest(bytes: $0) }, d)
  }

  func testZeroIsAllZeroHex() {
    XCTAssertEqual(Digest.zero.hex, String(repeating: "0", count: 64))
    XCTAssertEqual(Digest(hex: String(repeating: "0", count: 64)), .zero)
  }

  func testEveryNibblePrints() {
    let d = Digest(w0: 0x0123_4567_89ab_cdef, w1: 0xfedc_ba98_7654_3210, w2: 0, w3: .max)
    XCTAssertEqual(d.hex, "0123456789abcdeffedcba9876543210" + "0000000000000000" + "ffffffffffffffff")
    XCTAssertEqual(Digest(hex: d.hex), d)
  }
}
