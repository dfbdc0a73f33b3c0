import EdgeCore
import XCTest

/// Addresses as `facts` and templates show them: inet_ntop's text, without libc's formatter.
final class AddressTextTests: XCTestCase {
  private func v6(_ groups: [UInt16]) -> String {
    var b: [UInt8] = []
    for g in groups { b += [UInt8(g >> 8), UInt8(g & 0xFF)] }
    return b.withUnsafeBytes { ipv6Text($0) }
  }

  func testIPv6IsRFC5952sShortestForm() {
    XCTAssertEqual(v6([0, 0, 0, 0, 0, 0, 0, 1]), "::1")
    XCTAssertEqual(v6([0, 0, 0, 0, 0, 0, 0, 0]), "::")
    XCTAssertEqual(v6([0xfe80, 0, 0, 0, 0xfc, 0xff, 0xfe00, 1]), "fe80::fc:ff:fe00:1")
    XCTAssertEqual(v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]), "2001:db8::1:0:0:1", "the first of two equal runs")
    XCTAssertEqual(v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), "2001:db8:0:1:1:1:1:1", "one zero group stays")
    XCTAssertEqual(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), "2001:db8::")
    XCTAssertEqual(v6([0xfd00, 0, 0, 0, 0, 0, 0, 2]), "fd00::2")
  }

  func testIPv4IsDottedDecimal() {
    XCTAssertEqual(([192, 0, 2, 255] as [UInt8]).withUnsafeBytes { ipv4Text($0) }, "192.0.2.255")
  }
}
