import EdgeCore
import XCTest

/// Responses are built by hand here, byte by byte, so each test says exactly what a server sent.
final class DNSMessageTests: XCTestCase {
  /// A response header: ID, flags (QR set, plus `extra`), one question, `an` answers.
  func header(id: UInt16 = 0x1234, extraFlags: UInt16 = 0x0180, qd: UInt16 = 1, an: UInt16) -> [UInt8] {
    let flags = 0x8000 | extraFlags
    return [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF),
            UInt8(qd >> 8), UInt8(qd & 0xFF), UInt8(an >> 8), UInt8(an & 0xFF), 0, 0, 0, 0]
  }

  func name(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in s.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += label.utf8 }
    return out + [0]
  }

  /// The question section for `n` IN A (starts at byte 12, so a pointer to it is C0 0C).
  func question(_ n: String) -> [UInt8] { name(n) + [0, 1, 0, 1] }

  func a(_ owner: [UInt8], _ ip: [UInt8]) -> [UInt8] { owner + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + ip }

  func cname(_ owner: [UInt8], _ target: [UInt8]) -> [UInt8] {
    owner + [0, 5, 0, 1, 0, 0, 0, 60, UInt8(target.count >> 8), UInt8(target.count & 0xFF)] + target
  }

  func parse(_ p: [UInt8], id: UInt16 = 0x1234, _ n: String = "origin.example") throws -> DNSAnswer {
    try DNSMessage.parseResponse(p, id: id, name: n)
  }

  func testQueryIsOneRecursiveQuestionForA() throws {
    let q = try DNSMessage.query(id: 0xBEEF, name: "Origin.Example.")
    XCTAssertEqual(q, [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + name("Origin.Example") + [0, 1, 0, 1])
  }

  func testQueryRefusesNamesDNSCannotCarry() {
    for bad in ["", ".", "a..b", String(repeating: "x", count: 64) + ".com", String(repeating: "abcdefghi.", count: 26)] {
      XCTAssertThrowsError(try DNSMessage.query(id: 1, name: bad), bad) { e in
        guard case .badName = e as? DNSError else { return XCTFail("\(e)") }
      }
    }
  }

  func testAnswerWithCompressedOwnerGivesTheAddress() throws {
    let p = header(an: 1) + question("origin.example") + a([0xC0, 0x0C], [10, 0, 0, 7])
    let r = try parse(p)
    XCTAssertEqual(r.rcode, 0)
    XCTAssertFalse(r.truncated)
    XCTAssertEqual(r.addresses, ["10.0.0.7"])
  }

  func testNamesCompareWithoutCase() throws {
    let p = header(an: 1) + question("ORIGIN.example") + a(name("origin.EXAMPLE"), [10, 0, 0, 8])
    XCTAssertEqual(try parse(p, "Origin.Example").addresses, ["10.0.0.8"])
  }

  func testCNAMEChainIsFollowedInAnyOrder() throws {
    // origin.example -> cdn.example -> edge.cdn.example (A), listed backwards.
    let q = question("origin.example")
    let cdnAt = 12 + q.count + 2 + 10   // where the first CNAME's data ("cdn.example") starts
    let edge: [UInt8] = [4] + Array("edge".utf8) + [0xC0, UInt8(cdnAt)]
    var p = header(an: 3) + q + cname([0xC0, 0x0C], name("cdn.example"))
    p += a(edge, [192, 0, 2, 1])
    p += cname([0xC0, UInt8(cdnAt)], edge)
    let r = try parse(p)
    XCTAssertEqual(r.addresses, ["192.0.2.1"])
    XCTAssertEqual(r.canonicalName, "edge.cdn.example")
  }

  func testAddressesOfOtherNamesAreIgnored() throws {
    let p = header(an: 2) + question("origin.example") + a(name("evil.example"), [6, 6, 6, 6]) + a([0xC0, 0x0C], [10, 0, 0, 1])
    XCTAssertEqual(try parse(p).addresses, ["10.0.0.1"])
  }

  func testCNAMELoopEndsWithoutAddress() throws {
    // origin.example -> origin.example: a loop the chain limit ends.
    let p = header(an: 1) + question("origin.example") + cname([0xC0, 0x0C], [0xC0, 0x0C])
    let r = try parse(p)
    XCTAssertEqual(r.addresses, [])
  }

  func testNXDOMAINAndTruncationAreReported() throws {
    let nx = try parse(header(extraFlags: 0x0183, an: 0) + question("origin.example"))
    XCTAssertEqual(nx.rcode, 3)
    XCTAssertEqual(nx.addresses, [])
    let tc = try parse(header(extraFlags: 0x0380, an: 0) + question("origin.example"))
    XCTAssertTrue(tc.truncated)
  }

  func testWrongIDIsNotOurs() {
    let p = header(id: 0x4321, an: 1) + question("origin.example") + a([0xC0, 0x0C], [10, 0, 0, 7])
    XCTAssertThrowsError(try parse(p)) { e in
      guard case .mismatch = e as? DNSError else { return XCTFail("\(e)") }
    }
  }

  func testOtherQuestionOrAQueryIsNotOurs() {
    let other = header(an: 1) + question("evil.example") + a([0xC0, 0x0C], [6, 6, 6, 6])
    var query = header(an: 0) + question("origin.example")
    query[2] &= 0x7F
    let aaaa = header(an: 0) + name("origin.example") + [0, 28, 0, 1]
    for p in [other, query, aaaa] {
      XCTAssertThrowsError(try parse(p)) { e in
        guard case .mismatch = e as? DNSError else { return XCTFail("\(e)") }
      }
    }
  }

  func assertMalformed(_ p: [UInt8], _ why: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try parse(p), why, file: file, line: line) { e in
      guard case .malformed(let m) = e as? DNSError else { return XCTFail("\(e)", file: file, line: line) }
      XCTAssertTrue(containsText(m, why), m, file: file, line: line)
    }
  }

  func testEveryTruncationOfAGoodResponseIsRefused() {
    let p = header(an: 1) + question("origin.example") + a([0xC0, 0x0C], [10, 0, 0, 7])
    for n in 0..<p.count {
      XCTAssertThrowsError(try parse(Array(p[0..<n])), "cut at \(n)")
    }
  }

  func testCompressionLoopIsRefused() {
    // A pointer to itself, and two pointing at each other.
    assertMalformed(header(an: 0) + [0xC0, 0x0C, 0, 1, 0, 1], "does not point backwards")
    assertMalformed(header(an: 0) + [0xC0, 0x0E, 0xC0, 0x0C, 0, 1, 0, 1], "does not point backwards")
    let q = question("origin.example")
    assertMalformed(header(an: 1) + q + [0xC0, UInt8(12 + q.count)] + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4], "does not point backwards")
  }

  func testOverlongNameIsRefused() {
    // 5 labels of 63 bytes: over 255 even before the pointers could make it longer.
    var n: [UInt8] = []
    for _ in 0..<5 { n += [63] + Array(repeating: UInt8(ascii: "a"), count: 63) }
    assertMalformed(header(an: 0) + n + [0, 0, 1, 0, 1], "longer than 255")
  }

  func testHugeCountsEndAtThePacket() {
    assertMalformed(header(an: 65535) + question("origin.example") + a([0xC0, 0x0C], [10, 0, 0, 7]), "past the end")
  }

  func testRecordLengthPastThePacketIsRefused() {
    let p = header(an: 1) + question("origin.example") + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0xFF, 0xFF, 1, 2, 3, 4]
    assertMalformed(p, "past the end")
  }

  func testARecordOfWrongSizeIsRefused() {
    let p = header(an: 1) + question("origin.example") + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 1, 2, 3, 4, 5]
    assertMalformed(p, "A record not of 4 bytes")
  }

  func testReservedLabelTypeIsRefused() {
    assertMalformed(header(an: 0) + [0x80, 0, 0, 1, 0, 1], "reserved label type")
  }

  func testManyAddressesAreCapped() throws {
    var p = header(an: 100) + question("origin.example")
    for i in 0..<100 { p += a([0xC0, 0x0C], [10, 0, 0, UInt8(i)]) }
    XCTAssertEqual(try parse(p).addresses.count, DNSMessage.maxAddresses)
  }
}
