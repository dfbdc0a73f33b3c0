import XCTest
@testable import EdgeCore

final class ByteReaderTests: XCTestCase {
  private func read<R>(_ bytes: [UInt8], _ body: (inout ByteReader) throws(RecordError) -> R) -> Result<R, RecordError> {
    bytes.withUnsafeBytes { raw in
      var r = ByteReader(raw)
      do throws(RecordError) { return .success(try body(&r)) } catch { return .failure(error) }
    }
  }

  func testFixedWidthIntegersAreLittleEndian() {
    var w = ByteWriter()
    w.u32(0x0102_0304)
    w.u64(0x0102_0304_0506_0708)
    XCTAssertEqual(w.bytes, [4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1])
  }

  func testValuesRoundTrip() throws {
    var w = ByteWriter()
    w.u8(0xAB)
    w.u32(.max)
    w.u64(0)
    w.i64(-2)
    w.varint(0)
    w.varint(127)
    w.varint(128)
    w.varint(300_000)
    w.bytes([0, 1, 2])
    w.string("héllo")
    w.strings(["a", "", "c"])
    w.digest(Digest(w0: 9, w1: 8, w2: 7, w3: 6))
    let r = read(w.bytes) { (r) throws(RecordError) in
      (try r.u8(), try r.u32(), try r.u64(), try r.i64(), try r.varint(), try r.varint(), try r.varint(), try r.varint(),
       try r.bytes(), try r.string(), try r.strings(), try r.digest(), r.atEnd)
    }
    let v = try r.get()
    XCTAssertEqual(v.0, 0xAB)
    XCTAssertEqual(v.1, .max)
    XCTAssertEqual(v.2, 0)
    XCTAssertEqual(v.3, -2)
    XCTAssertEqual([v.4, v.5, v.6, v.7], [0, 127, 128, 300_000])
    XCTAssertEqual(v.8, [0, 1, 2])
    XCTAssertEqual(v.9, "héllo")
    XCTAssertEqual(v.10, ["a", "", "c"])
    XCTAssertEqual(v.11, Digest(w0: 9, w1: 8, w2: 7, w3: 6))
    XCTAssertTrue(v.12)
  }

  func testVarintIsLEB128() {
    var w = ByteWriter()
    w.varint(300)
    XCTAssertEqual(w.bytes, [0xAC, 0x02])
  }

  func testUvarintRoundTripsEvery64BitWidthAndRefusesAnEleventhByte() throws {
    for v: UInt64 in [0, 1, 127, 128, 16_383, 16_384, 1_800_000_000_000, UInt64(UInt32.max), UInt64.max - 1, UInt64.max] {
      var w = ByteWriter()
      w.uvarint(v)
      XCTAssertEqual(w.bytes.count, max(1, (64 - v.leadingZeroBitCount + 6) / 7), "\(v)")
      try w.bytes.withUnsafeBytes { b in
        var r = ByteReader(b)
        XCTAssertEqual(try r.uvarint(), v)
        XCTAssertTrue(r.atEnd)
      }
    }
    // 2^64 and longer do not fit: refused, never wrapped.
    for bad: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
                         [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]] {
      try bad.withUnsafeBytes { b in
        var r = ByteReader(b)
        XCTAssertThrowsError(try r.uvarint())
      }
    }
  }

  func testReadingPastTheEndIsTruncated() {
    XCTAssertEqual(read([1, 2, 3]) { (r) throws(RecordError) in try r.u32() }, .failure(RecordError("record truncated")))
    XCTAssertEqual(read([]) { (r) throws(RecordError) in try r.u8() }, .failure(RecordError("record truncated")))
    XCTAssertEqual(read([0x80]) { (r) throws(RecordError) in try r.varint() }, .failure(RecordError("record truncated")))
  }

  func testLengthLongerThanTheRecordIsTruncated() {
    // A length of 2^31 - 1 over a 3-byte record must fail, not read out of bounds.
    XCTAssertEqual(read([0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x61]) { (r) throws(RecordError) in try r.string() },
                   .failure(RecordError("record truncated")))
  }

  func testOverlongVarintIsAnError() {
    let tenBytes = [UInt8](repeating: 0xFF, count: 10) + [0x01]
    XCTAssertEqual(read(tenBytes) { (r) throws(RecordError) in try r.varint() }, .failure(RecordError("record length overflows")))
    // 2^31 fits in the wire format but not in a length.
    XCTAssertEqual(read([0x80, 0x80, 0x80, 0x80, 0x08]) { (r) throws(RecordError) in try r.varint() },
                   .failure(RecordError("record length overflows")))
  }

  func testListCountLargerThanTheRecordIsTruncated() {
    XCTAssertEqual(read([0xFF, 0xFF, 0x03]) { (r) throws(RecordError) in try r.strings() }, .failure(RecordError("record truncated")))
  }

  func testSliceLendsWithoutCopying() throws {
    let bytes: [UInt8] = [3, 10, 20, 30, 99]
    let r = read(bytes) { (r) throws(RecordError) -> ([UInt8], Int) in
      let s = try r.slice()
      return (Array(s), r.offset)
    }
    let (slice, offset) = try r.get()
    XCTAssertEqual(slice, [10, 20, 30])
    XCTAssertEqual(offset, 4)
  }
}
