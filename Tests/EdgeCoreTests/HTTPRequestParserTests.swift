import EdgeCore
import XCTest

final class HTTPRequestParserTests: XCTestCase {
  func feed(_ s: String) throws -> HTTPRequest? {
    var p = HTTPRequestParser()
    return try Array(s.utf8).withUnsafeBytes { try p.feed($0) }
  }

  func testLongPollQuery() throws {
    let r = try XCTUnwrap(feed("GET /bundle.json?wait=30&have=41 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\"\r\n\r\n"))
    XCTAssertEqual(r.method, "GET")
    XCTAssertEqual(r.path, "/bundle.json")
    XCTAssertEqual(r.parameter("wait"), "30")
    XCTAssertEqual(r.parameter("have"), "41")
    XCTAssertNil(r.parameter("other"))
    XCTAssertEqual(r.headers.value("if-none-match"), "\"a\"")
  }

  func testIncompleteHeadReturnsNil() throws {
    XCTAssertNil(try feed("GET / HTTP/1.1\r\nHost: x\r\n"))
  }

  func testBodiesAndBadLinesAreRefused() {
    XCTAssertThrowsError(try feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"))
    XCTAssertThrowsError(try feed("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
    XCTAssertThrowsError(try feed("GET  / HTTP/1.1\r\n\r\n"))
    XCTAssertThrowsError(try feed("GET http://x/ HTTP/1.1\r\n\r\n"))
    XCTAssertThrowsError(try feed("GET / HTTP/2.0\r\n\r\n"))
  }

  func testHeaderLimit() {
    XCTAssertThrowsError(try feed("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n")) {
      XCTAssertEqual(($0 as! HTTPParseError).kind, .headersTooLarge)
    }
  }
}
