import EdgeCore
import XCTest

final class HTTPResponseParserTests: XCTestCase {
  func parse(_ chunks: [String], limits: HTTPLimits = HTTPLimits(), close: Bool = false) throws -> HTTPResponseParser {
    var p = HTTPResponseParser(limits: limits)
    for c in chunks { _ = try Array(c.utf8).withUnsafeBytes { raw in try p.feed(raw) } }
    if close { try p.finish() }
    return p
  }

  func testContentLengthBodyInOneByteChunks() throws {
    let text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"abc\"\r\n\r\nhello"
    let p = try parse(text.map { String($0) })
    XCTAssertTrue(p.isComplete)
    XCTAssertEqual(p.head?.status, 200)
    XCTAssertEqual(p.head?.headers.value("etag"), "\"abc\"")
    XCTAssertEqual(p.body, Array("hello".utf8))
  }

  func testChunkedBodyWithExtensionsAndTrailers() throws {
    let p = try parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n", "6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"])
    XCTAssertTrue(p.isComplete)
    XCTAssertEqual(p.body, Array("hello world".utf8))
  }

  func testNotModifiedHasNoBody() throws {
    let p = try parse(["HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"])
    XCTAssertTrue(p.isComplete)
    XCTAssertEqual(p.body, [])
  }

  func testCloseDelimitedBody() throws {
    let p = try parse(["HTTP/1.0 200 OK\r\n\r\nabc"], close: true)
    XCTAssertEqual(p.body, Array("abc".utf8))
  }

  func testTruncatedBodyIsAnError() {
    XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], close: true)) {
      XCTAssertEqual(($0 as! HTTPParseError).kind, .truncated)
    }
    XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], close: true)) {
      XCTAssertEqual(($0 as! HTTPParseError).kind, .truncated)
    }
  }

  func testEndlessHeadersAreCutOffAtTheLimit() {
    var p = HTTPResponseParser(limits: HTTPLimits(maxHeaderBytes: 16 << 10))
    let line = Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8)
    var fed = 0
    XCTAssertThrowsError(try {
      _ = try Array("HTTP/1.1 200 OK\r\n".utf8).withUnsafeBytes { try p.feed($0) }
      while fed < 100 << 20 {
        _ = try line.withUnsafeBytes { try p.feed($0) }
        fed += line.count
      }
    }()) { XCTAssertEqual(($0 as! HTTPParseError).kind, .headersTooLarge) }
    XCTAssertLessThanOrEqual(fed, 17 << 10)
  }

  func testTooManyHeaders() {
    var text = "HTTP/1.1 200 OK\r\n"
    for i in 0..<70 { text += "X-\(i): v\r\n" }
    XCTAssertThrowsError(try parse([text + "\r\n"])) { XCTAssertEqual(($0 as! HTTPParseError).kind, .tooManyHeaders) }
  }

  func testBodyLimitIsCheckedBeforeReading() {
    XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"], limits: HTTPLimits(maxBodyBytes: 999))) {
      XCTAssertEqual(($0 as! HTTPParseError).kind, .bodyTooLarge)
    }
    XCTAssertThrowsError(try parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"], limits: HTTPLimits(maxBodyBytes: 999))) {
      XCTAssertEqual(($0 as! HTTPParseError).kind, .bodyTooLarge)
    }
  }

  func testSmugglingShapesAreRefused() {
    for bad in ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
                "HTTP/1.1 200 OK\nContent-Length: 0\n\n\r\n\r\n",
                "HTTP/1.1 2x0 OK\r\n\r\n",
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"] {
      XCTAssertThrowsError(try parse([bad]), bad)
    }
  }
}
