import Foundation
import XCTest

// A test that cannot run here (not root, no nginx, no namespaces) is not a pass. Outside CI it is
// skipped and recorded in $EDGE_SKIP_LOG (test.sh counts those lines); with CI=true it fails,
// so CI proves every test it lists. The same file is in each test target that skips (a test
// target cannot import another's sources).

/// CI=true turns a skip into a failure.
struct RequirementMissingInCI: Error, CustomStringConvertible {
  var reason: String
  var description: String { "CI=true and this test cannot run here: \(reason)" }
}

/// The error to throw when a test cannot run here: `throw skipOrFailInCI("needs root")`.
func skipOrFailInCI(_ reason: String, file: StaticString = #fileID, function: StaticString = #function) -> any Error {
  if ProcessInfo.processInfo.environment["CI"] == "true" { return RequirementMissingInCI(reason: reason) }
  if let log = ProcessInfo.processInfo.environment["EDGE_SKIP_LOG"], let handle = FileHandle(forWritingAtPath: log) {
    handle.seekToEndOfFile()
    handle.write(Data("XCTSkip \(file) \(function): \(reason)\n".utf8))
    handle.closeFile()
  }
  return XCTSkip(reason)
}

/// Goes on when `condition` holds; otherwise skips, or fails in CI.
func skipUnless(_ condition: Bool, _ reason: String, file: StaticString = #fileID, function: StaticString = #function) throws {
  if !condition { throw skipOrFailInCI(reason, file: file, function: function) }
}
