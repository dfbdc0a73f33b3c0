import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore

final class SHA256Tests: XCTestCase {
  override func setUp() { XCTAssertTrue(cryptoInit()) }

  private func hex(_ s: String) -> String { SHA256.hash(Array(s.utf8)).hex }

  func testKnownVectors() {
    // FIPS 180-2 examples and the empty message.
    XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  }

  func testMillionAs() {
    XCTAssertEqual(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hex,
                   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  func testStreamingInPiecesEqualsOneShot() {
    let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    var h = SHA256()
    var i = 0
    for size in [1, 63, 64, 65, 0, 1000, 4096] {
      let end = min(i + size, data.count)
      data[i..<end].withUnsafeBytes { h.update($0) }
      i = end
    }
    data[i...].withUnsafeBytes { h.update($0) }
    XCTAssertEqual(h.finish(), SHA256.hash(data))
  }

  func testHashingAFileThroughASmallBuffer() throws {
    let base = try TemporaryDirectory()
    defer { base.remove() }
    let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    try Data(data).write(to: base.url("f"))
    let fd = try FileDescriptor.open(at: AT_FDCWD, base.path + "/f", O_RDONLY)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1000, alignment: 8)
    defer { buffer.deallocate() }
    XCTAssertEqual(try SHA256.hash(fd, buffer: buffer), SHA256.hash(data))
  }

  func testLibsodiumVersionIsDotted() {
    let parts = libsodiumVersion().split(separator: ".")
    XCTAssertGreaterThanOrEqual(parts.count, 2)
    XCTAssertNotNil(Int(parts[0]))
  }
}
