import Foundation
import XCTest

/// `edgeagent facts`: the root's distribution, the kernel's figures, the labels and the classes,
/// as text and as JSON, read without a state and without writing one.
final class FactsCommandTests: XCTestCase {
  func testFactsShowTheRootsDistributionAndTheClassesItDefines() throws {
    let base = FileManager.default.temporaryDirectory.path + "/edgeagent-facts-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: base) }
    try FileManager.default.createDirectory(atPath: base + "/root/usr/lib", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: base + "/root/etc", withIntermediateDirectories: true)
    // Debian's layout: /etc/os-release a relative symlink, resolved beneath the root.
    try Data("PRETTY_NAME=\"OpenWrt 25.12.0\"\nID=\"openwrt\"\nVERSION_ID=\"25.12.0\"\nID_LIKE=\"lede openwrt\"\n".utf8)
      .write(to: URL(fileURLWithPath: base + "/root/usr/lib/os-release"))
    try FileManager.default.createSymbolicLink(atPath: base + "/root/etc/os-release", withDestinationPath: "../usr/lib/os-release")

    let r = try Edgeagent.run(["facts", "--root", base + "/root", "--json", "--label", "role_gateway"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let facts = try XCTUnwrap(json["facts"] as? [String: Any])
    XCTAssertEqual(facts["os_id"] as? String, "openwrt")
    XCTAssertEqual(facts["os_version_id"] as? String, "25.12.0")
    XCTAssertEqual(facts["os_name"] as? String, "OpenWrt 25.12.0")
    XCTAssertEqual(facts["labels"] as? [String], ["role_gateway"])
    XCTAssertEqual(facts["cpus"] as? Int, ProcessInfo.processInfo.activeProcessorCount)
    XCTAssertEqual(facts["memory_mb"] as? Int, Int(ProcessInfo.processInfo.physicalMemory >> 20))
    let interfaces = try XCTUnwrap(facts["interfaces"] as? [[String: Any]])
    let lo = try XCTUnwrap(interfaces.first { $0["loopback"] as? Bool == true })
    XCTAssertTrue((lo["ipv4"] as? [String] ?? []).contains("127.0.0.1"), "\(lo)")
    XCTAssertFalse((facts["ipv4"] as? [String] ?? []).contains("127.0.0.1"), "loopback is not among the host's addresses")
    let classes = try XCTUnwrap(json["classes"] as? [String])
    for c in ["openwrt", "openwrt_25", "lede", "role_gateway", "linux", "any"] { XCTAssertTrue(classes.contains(c), "\(c) in \(classes)") }

    let text = try Edgeagent.run(["facts", "--root", base + "/root", "--label", "role_gateway"])
    XCTAssertEqual(text.status, 0)
    XCTAssertTrue(text.stdout.contains("\nos_id: openwrt\n"), text.stdout)
    XCTAssertTrue(text.stdout.contains("\ninterface lo: 127.0.0.1"), text.stdout)
    XCTAssertTrue(text.stdout.hasSuffix("\n"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/root/var"), "facts writes no state")
  }
}
