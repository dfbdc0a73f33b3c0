import XCTest
@testable import EdgeCore

final class StatRecordTests: XCTestCase {
  private let sample = StatRecord(
    identity: FileIdentity(device: 0xFD01, inode: .max, size: 1 << 40, mtime: 1_767_225_600_123_456_789, ctime: -1),
    digest: Digest(w0: 1, w1: 2, w2: 3, w3: 4))

  private func decode(_ bytes: [UInt8]) -> StatRecord? { bytes.withUnsafeBytes { StatRecord.decode($0) } }

  func testRoundTrips() {
    XCTAssertEqual(decode(sample.encode()), sample)
  }

  func testEncodingHasTheFixedSize() {
    XCTAssertEqual(sample.encode().count, StatRecord.size)
    XCTAssertEqual(StatRecord.size, 73)
  }

  func testEncodingIsLittleEndianAfterTheVersion() {
    let bytes = sample.encode()
    XCTAssertEqual(bytes[0], StatRecord.version)
    XCTAssertEqual(Array(bytes[1..<9]), [0x01, 0xFD, 0, 0, 0, 0, 0, 0])
  }

  func testWrongSizeIsACacheMiss() {
    let bytes = sample.encode()
    XCTAssertNil(decode(Array(bytes.dropLast())))
    XCTAssertNil(decode(bytes + [0]))
    XCTAssertNil(decode([]))
  }

  func testOtherVersionIsACacheMiss() {
    var bytes = sample.encode()
    bytes[0] = StatRecord.version &+ 1
    XCTAssertNil(decode(bytes))
  }

  func testIdentityComparesEveryField() {
    let base = sample.identity
    var changed = [base, base, base, base, base]
    changed[0].device += 1
    changed[1].inode -= 1
    changed[2].size += 1
    changed[3].mtime += 1
    changed[4].ctime += 1
    for c in changed { XCTAssertNotEqual(c, base) }
  }

  func testAStampIsSettledOnceAWriteMustStampLater() {
    let second: Int64 = 1_700_000_000_000_000_000
    // A sub-second stamp (ext4, XFS, btrfs, tmpfs): a coarse tick and a 10 ms granule later.
    let fine = second + 123_456_789
    XCTAssertFalse(FileIdentity.settled(fine, before: fine))
    XCTAssertFalse(FileIdentity.settled(fine, before: fine + 19_999_999))
    XCTAssertTrue(FileIdentity.settled(fine, before: fine + 20_000_000))
    // A stamp on a whole second may come from a filesystem of 1 or 2 s granules.
    XCTAssertFalse(FileIdentity.settled(second, before: second + 20_000_000))
    XCTAssertFalse(FileIdentity.settled(second, before: second + 2_000_000_000))
    XCTAssertTrue(FileIdentity.settled(second, before: second + 2_010_000_000))
    // A clock behind the stamp (set back, or a stamp from elsewhere) settles nothing.
    XCTAssertFalse(FileIdentity.settled(fine, before: fine - 5_000_000_000))
  }
}
