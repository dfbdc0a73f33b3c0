import Foundation
import XCTest

// A test that cannot run here (not root, no nginx, no namespaces) is not a pass. Outside CI it is
// skipped and recorded in $EDGE_SKIP_LOG (test.sh counts those lines); with CI=true it fails,
// so CI proves every test it lists. A target of its own (EdgeTestSupport, full builds only) so
// every test target that skips uses the one copy.

/// CI=true turns a skip into a failure.
public struct RequirementMissingInCI: Error, CustomStringConvertible {
  public var reason: String
  public var description: String { "CI=true and this test cannot run here: \(reason)" }
}

/// The error to throw when a test cannot run here: `throw skipOrFailInCI("needs root")`.
public func skipOrFailInCI(_ reason: String, file: StaticString = #fileID, function: StaticString = #function) -> any Error {
  if ProcessInfo.processInfo.environment["CI"] == "true" { return RequirementMissingInCI(reason: reason) }
  if let log = ProcessInfo.processInfo.environment["EDGE_SKIP_LOG"], let handle = FileHandle(forWritingAtPath: log) {
    handle.seekToEndOfFile()
    handle.write(Data("XCTSkip \(file) \(function): \(reason)\n".utf8))
    handle.closeFile()
  }
  return XCTSkip(reason)
}

/// Goes on when `condition` holds; otherwise skips, or fails in CI.
public func skipUnless(_ condition: Bool, _ reason: String, file: StaticString = #fileID, function: StaticString = #function) throws {
  if !condition { throw skipOrFailInCI(reason, file: file, function: function) }
}
