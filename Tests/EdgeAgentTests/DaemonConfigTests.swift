@testable import EdgeAgent
@testable import EdgeConverge
import EdgeCore
import EdgeHost
import Foundation
import XCTest

final class DaemonConfigTests: XCTestCase {
  var dir: String!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.path + "/edgeconfig-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

  func load(_ text: String) throws -> Result<DaemonConfig, AgentError> {
    let path = dir + "/config.json"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    do { return .success(try DaemonConfig.load(path)) } catch { return .failure(error) }
  }

  func testAnAllowListIsReadWithItsLineNumbersInErrors() throws {
    let key = String(repeating: "ab", count: 32)
    try "# the fleet\nedge-1 \(key)\n\n  edge-2\t\(key)  \n".write(toFile: dir + "/allowed", atomically: true, encoding: .utf8)
    let list = try Daemon.allowList(dir + "/allowed")
    XCTAssertEqual(list.count, 2)
    XCTAssertEqual(list["edge-2"], [UInt8](repeating: 0xAB, count: 32))
    try "edge-1 \(key)\nedge-3 nothex\n".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try Daemon.allowList(dir + "/bad")) { e in
      XCTAssertTrue("\(e)".contains("/bad:2: expected HOST_ID PUBLIC_KEY"), "\(e)")
    }
    try "edge-1 \(key)\nedge-1 \(key)\n".write(toFile: dir + "/twice", atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try Daemon.allowList(dir + "/twice")) { e in XCTAssertTrue("\(e)".contains(":2: host \"edge-1\" is listed twice"), "\(e)") }
    // The config key takes the path; a daemon with a bad list does not start.
    try #"{"allowed_hosts": "\#(dir!)/bad", "collect": "127.0.0.1:0"}"#.write(toFile: dir + "/c.json", atomically: true, encoding: .utf8)
    let c = try DaemonConfig.load(dir + "/c.json")
    XCTAssertEqual(c.allowedHosts, dir + "/bad")
    XCTAssertThrowsError(try Daemon.reportSettings(c))
  }

  func testResolverFilesDefaultToTheHostsAndCanBeMovedByTheConfig() throws {
    let d = try load("{}").get()
    XCTAssertEqual(d.hostsFile, "/etc/hosts")
    XCTAssertEqual(d.resolvConf, "/etc/resolv.conf")
    let c = try load(#"{"hosts_file": "/run/hosts", "resolv_conf": "/run/systemd/resolve/resolv.conf"}"#).get()
    XCTAssertEqual(c.hostsFile, "/run/hosts")
    XCTAssertEqual(c.resolvConf, "/run/systemd/resolve/resolv.conf")
    guard case .failure(let e) = try load(#"{"resolv_conf": 53}"#) else { return XCTFail() }
    XCTAssertTrue(containsText(e.description, "resolv_conf"), e.description)
  }

  func testModulesAndMountsOfABootstrapConfig() throws {
    let c = try load("""
      {"modules": ["/lib/modules/virtio_blk.ko", "/lib/modules/ext4.ko"],
       "mounts": [{"device": "/dev/vda", "path": "/var/lib/edgeagent", "type": "ext4", "options": "noatime"},
                  {"device": "/dev/vdb", "path": "/srv/source", "type": "ext4", "options": "ro", "wait": "200ms"}]}
      """).get()
    XCTAssertEqual(c.modules, ["/lib/modules/virtio_blk.ko", "/lib/modules/ext4.ko"])
    XCTAssertEqual(c.mounts, [MountSpec(device: "/dev/vda", path: "/var/lib/edgeagent", type: "ext4", options: "noatime", waitMs: 1000),
                              MountSpec(device: "/dev/vdb", path: "/srv/source", type: "ext4", options: "ro", waitMs: 200)])
  }

  func testBadMountsAreRejectedWithTheirPositions() throws {
    guard case .failure(let e) = try load("""
      {"modules": ["virtio_blk.ko"],
       "mounts": [{"device": "/dev/vda", "path": "state", "type": "ext4"},
                  {"device": "/dev/vdb", "type": "ext4"},
                  {"device": "/dev/vdc", "path": "/x", "type": "ext4", "fstype": "ext4"}]}
      """) else { return XCTFail("accepted") }
    let text = e.description
    XCTAssertTrue(text.contains("1:13: key \"modules\": expected absolute paths"), text)
    XCTAssertTrue(text.contains("2:44: key \"path\": expected an absolute path"), text)
    XCTAssertTrue(text.contains("a mount needs device, path and type"), text)
    XCTAssertTrue(text.contains("key \"fstype\": unknown key"), text)
  }

  func testRelayURLPlacesTheRelayAndNeedsARelay() throws {
    var c = try load(#"{"relay": "0.0.0.0:7070", "relay_url": "http://edge-12.example:7070"}"#).get()
    XCTAssertEqual(c.relayURL, "http://edge-12.example:7070")
    XCTAssertEqual(try Daemon.bundleSettings(c).relayURL?.description, "http://edge-12.example:7070")
    c.relay = nil
    XCTAssertThrowsError(try Daemon.bundleSettings(c)) { XCTAssertTrue("\($0)".contains("relay is not"), "\($0)") }
    c.relay = "0.0.0.0:7070"
    c.relayURL = "file:///srv/bundles"
    XCTAssertThrowsError(try Daemon.bundleSettings(c)) { XCTAssertTrue("\($0)".contains("expected http://HOST:PORT"), "\($0)") }
    XCTAssertEqual(try load(#"{"interval": "60s", "pull_interval": "500ms"}"#).get().pullIntervalMs, 500)
    XCTAssertNil(try load(#"{"interval": "60s"}"#).get().pullIntervalMs)
    guard case .failure(let e) = try load(#"{"relay_url": 7070}"#) else { return XCTFail("accepted") }
    XCTAssertTrue(e.description.contains("1:15: key \"relay_url\": expected string"), e.description)
  }
}
