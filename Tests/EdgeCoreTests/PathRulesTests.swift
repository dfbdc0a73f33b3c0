import XCTest
@testable import EdgeCore

final class PathRulesTests: XCTestCase {
  func testAbsoluteNormalPathsAreFine() {
    for p in ["/etc/motd", "/a", "/opt/app/.hidden", "/a/..b/c.", "/a/...", "/x/y z/é", "/" + String(repeating: "n", count: 255)] {
      XCTAssertNil(pathProblem(p), p)
    }
  }

  func testEachBadPathHasItsReason() {
    let cases: [(String, String)] = [
      ("", "empty"),
      ("etc/motd", "relative"),
      ("./x", "relative"),
      ("/", "root directory"),
      ("/a//b", "'//'"),
      ("//a", "'//'"),
      ("/a/", "ends with '/'"),
      ("/a/./b", "'.' component"),
      ("/.", "'.' component"),
      ("/a/../b", "'..' component"),
      ("/..", "'..' component"),
      ("/a/..", "'..' component"),
      ("/a\u{0}b", "NUL"),
      ("/" + String(repeating: "n", count: 256), "longer than 255"),
      ("/" + String(repeating: "d/", count: 2048), "longer than 4095"),
    ]
    for (path, reason) in cases {
      let problem = pathProblem(path)
      XCTAssertNotNil(problem, path)
      XCTAssertTrue(problem?.contains(reason) ?? false, "\(path): \(problem ?? "nil") lacks \(reason)")
    }
  }

  func testLongestAllowedPath() {
    var path = ""
    while path.utf8.count + 2 <= 4095 { path += "/x" }
    if path.utf8.count < 4095 { path += "y" }
    XCTAssertEqual(path.utf8.count, 4095)
    XCTAssertNil(pathProblem(path))
  }

  func testParentPath() {
    XCTAssertEqual(parentPath("/opt/app/app.conf"), "/opt/app")
    XCTAssertEqual(parentPath("/opt"), "/")
    XCTAssertEqual(parentPath("/a/b"), "/a")
  }
}
