import Foundation
import XCTest

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
  let path: String

  init(_ label: String = "edgehost") throws {
    path = FileManager.default.temporaryDirectory.path + "/\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  }

  func remove() { try? FileManager.default.removeItem(atPath: path) }

  func url(_ relative: String) -> URL { URL(fileURLWithPath: path + "/" + relative) }

  func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
    try Data(text.utf8).write(to: url(relative))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path + "/" + relative)
  }

  func read(_ relative: String) throws -> String { String(decoding: try Data(contentsOf: url(relative)), as: UTF8.self) }

  func mkdir(_ relative: String) throws {
    try FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
  }

  func symlink(_ relative: String, to target: String) throws {
    try FileManager.default.createSymbolicLink(atPath: path + "/" + relative, withDestinationPath: target)
  }

  func exists(_ relative: String) -> Bool {
    var st = stat()
    return lstat(path + "/" + relative, &st) == 0
  }

  func lstatOf(_ relative: String) -> stat? {
    var st = stat()
    return lstat(path + "/" + relative, &st) == 0 ? st : nil
  }

  func permissions(_ relative: String) -> Int { Int((lstatOf(relative)?.st_mode ?? 0) & 0o7777) }

  func isSymlink(_ relative: String) -> Bool { (lstatOf(relative)?.st_mode ?? 0) & S_IFMT == S_IFLNK }

  func isRegular(_ relative: String) -> Bool { (lstatOf(relative)?.st_mode ?? 0) & S_IFMT == S_IFREG }

  func names(_ relative: String = "") throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: relative.isEmpty ? path : path + "/" + relative).sorted()
  }
}
