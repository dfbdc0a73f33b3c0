import Foundation
import XCTest

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
  let path: String

  init(_ label: String = "edgestore") throws {
    let base = FileManager.default.temporaryDirectory.path
    path = base + "/\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  }

  func remove() { try? FileManager.default.removeItem(atPath: path) }

  func permissions(_ relative: String) throws -> Int {
    let attrs = try FileManager.default.attributesOfItem(atPath: path + "/" + relative)
    return (attrs[.posixPermissions] as? NSNumber)?.intValue ?? -1
  }
}
