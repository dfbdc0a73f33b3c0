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
    // A nanosecond stamp (ext4, XFS, btrfs, tmpfs): settled once the coarse clock passes it.
    let fine = second + 123_456_789
    XCTAssertEqual(FileIdentity.granule(fine), 1)
    XCTAssertFalse(FileIdentity.settled(fine, before: fine))
    XCTAssertTrue(FileIdentity.settled(fine, before: fine + 1))
    XCTAssertFalse(FileIdentity.settled(fine, before: fine - 4_000_000), "a clock a tick behind the stamp")
    // exFAT's 10 ms: a write within the same 10 ms would truncate to the same stamp.
    let tenMs = second + 120_000_000
    XCTAssertEqual(FileIdentity.granule(tenMs), 10_000_000)
    XCTAssertFalse(FileIdentity.settled(tenMs, before: tenMs + 9_999_999))
    XCTAssertTrue(FileIdentity.settled(tenMs, before: tenMs + 10_000_000))
    // NTFS's 100 ns.
    XCTAssertEqual(FileIdentity.granule(second + 123_456_700), 100)
    // A stamp on a whole second may come from a filesystem of 1 or 2 s granules.
    XCTAssertEqual(FileIdentity.granule(second), 2_000_000_000)
    XCTAssertFalse(FileIdentity.settled(second, before: second + 1_999_999_999))
    XCTAssertTrue(FileIdentity.settled(second, before: second + 2_000_000_000))
    // Before 1970 (a box without a clock): the sub-second part is still what counts.
    XCTAssertEqual(FileIdentity.granule(-1_500_000_000), 100_000_000)
  }
}
