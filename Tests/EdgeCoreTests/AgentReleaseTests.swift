import EdgeCore
import XCTest

final class AgentReleaseTests: XCTestCase {
  let a = String(repeating: "ab", count: 32), c = String(repeating: "cd", count: 32)

  func bundle(_ agent: String, blobs: String? = nil) -> [UInt8] {
    Array(#"{"serial": 1, "issued": 100, "expires": 200, "policy": {"policy": "p", "promises": []}, "blobs": \#(blobs ?? "{\"\(a)\": 3, \"\(c)\": 4}"), "agent": \#(agent)}"#.utf8)
  }

  func message(_ agent: String, blobs: String? = nil) -> String {
    do { _ = try PolicyBundle.decode(bundle(agent, blobs: blobs)); return "" } catch { return error.description }
  }

  func testDecodesAVersionAndOneBlobPerTarget() throws {
    let b = try PolicyBundle.decode(bundle(#"{"version": "1.2.0-rc1+x", "targets": {"x86_64": "sha256:\#(a)", "aarch64": "sha256:\#(c)"}}"#))
    let r = try XCTUnwrap(b.agent)
    XCTAssertEqual(r.version, "1.2.0-rc1+x")
    XCTAssertEqual(r.targets.map(\.name), ["aarch64", "x86_64"])
    XCTAssertEqual(r.digest(for: "x86_64"), Digest(hex: a))
    XCTAssertEqual(r.digest(for: "aarch64"), Digest(hex: c))
    XCTAssertNil(r.digest(for: "armv7"))
  }

  func testEncodesWhatDecodes() throws {
    let r = AgentRelease(version: "7", targets: [AgentTarget(name: "armv7", digest: Digest(hex: a)!)])
    let bytes = PolicyBundle.encode(serial: 3, issued: 1, expires: 2, policy: try JSONReader.parse(Array(#"{"policy": "p", "promises": []}"#.utf8)),
                                    blobs: [BundleBlob(digest: Digest(hex: a)!, size: 9)], relays: [], agent: r)
    XCTAssertEqual(try PolicyBundle.decode(bytes).agent, r)
  }

  func testABundleWithoutAnAgentHasNone() throws {
    let plain = Array(#"{"serial": 1, "issued": 100, "expires": 200, "policy": {"policy": "p", "promises": []}}"#.utf8)
    XCTAssertNil(try PolicyBundle.decode(plain).agent)
  }

  func testRefusalsNameTheKey() {
    XCTAssertTrue(message(#"{"version": "1", "targets": {"x86_64": "sha256:\#(String(repeating: "ee", count: 32))"}}"#)
      .contains("key \"agent.targets.x86_64\": sha256:eeee"), "a binary not listed in blobs")
    XCTAssertTrue(message(#"{"version": "1", "targets": {"mips": "sha256:\#(a)"}}"#).contains("unknown target \"mips\""))
    XCTAssertTrue(message(#"{"version": "1", "targets": {"x86_64": "\#(a)"}}"#).contains("key \"agent.targets.x86_64\": expected \"sha256:\""))
    XCTAssertTrue(message(#"{"version": "../1", "targets": {"x86_64": "sha256:\#(a)"}}"#).contains("key \"agent.version\""))
    XCTAssertTrue(message(#"{"version": "", "targets": {"x86_64": "sha256:\#(a)"}}"#).contains("key \"agent.version\""))
    XCTAssertTrue(message(#"{"targets": {"x86_64": "sha256:\#(a)"}}"#).contains("missing \"version\""))
    XCTAssertTrue(message(#"{"version": "1", "targets": {}}"#).contains("key \"agent.targets\""))
    XCTAssertTrue(message(#"{"version": "1", "targets": {"x86_64": "sha256:\#(a)"}, "hook": 1}"#).contains("unknown key \"hook\""))
    XCTAssertTrue(message(#""1.0""#).contains("key \"agent\": expected an object"))
    XCTAssertTrue(message(#"{"version": "1", "targets": {"x86_64": "sha256:\#(a)"}}"#).isEmpty)
  }

  func testTheTargetOfAnExecutableComesFromItsELFHeader() {
    func header(_ cls: UInt8, _ machine: UInt16, data: UInt8 = 1) -> [UInt8] {
      var h = [UInt8](repeating: 0, count: 64)
      h[0] = 0x7f; h[1] = UInt8(ascii: "E"); h[2] = UInt8(ascii: "L"); h[3] = UInt8(ascii: "F")
      h[4] = cls; h[5] = data
      h[18] = UInt8(machine & 0xff); h[19] = UInt8(machine >> 8)
      return h
    }
    XCTAssertEqual(AgentRelease.target(ofELF: header(2, 62)), "x86_64")
    XCTAssertEqual(AgentRelease.target(ofELF: header(2, 183)), "aarch64")
    XCTAssertEqual(AgentRelease.target(ofELF: header(1, 40)), "armv7")
    XCTAssertNil(AgentRelease.target(ofELF: header(1, 62)), "a 32-bit x86_64 is no such thing")
    XCTAssertNil(AgentRelease.target(ofELF: header(2, 62, data: 2)), "big-endian")
    XCTAssertNil(AgentRelease.target(ofELF: header(2, 8)), "MIPS")
    XCTAssertNil(AgentRelease.target(ofELF: Array("#!/bin/sh\necho hi\n".utf8)))
    XCTAssertNil(AgentRelease.target(ofELF: Array(header(2, 62).prefix(19))))
  }
}
