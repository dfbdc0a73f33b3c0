import Foundation
import XCTest
@testable import EdgeHost

final class HostClassesTests: XCTestCase {
  private var machine: String {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }

  func testHardClassesAndLabels() {
    let classes = hostClasses(labels: ["role-router", "Site.Berlin"], hostname: "edge-01.lan")
    XCTAssertTrue(classes.isSuperset(of: ["any", "linux", "role_router", "Site_Berlin", "edge_01_lan", "host_edge_01_lan"]))
    XCTAssertTrue(classes.contains(machine.replacingOccurrences(of: "-", with: "_")))
  }

  func testArchitectureAliases() {
    let classes = hostClasses(labels: [], hostname: "h")
    switch machine {
    case "x86_64": XCTAssertTrue(classes.contains("amd64"))
    case "aarch64": XCTAssertTrue(classes.contains("arm64"))
    default: if machine.hasPrefix("armv") { XCTAssertTrue(classes.contains("arm")) }
    }
    XCTAssertFalse(classes.contains("arm") && machine == "x86_64")
  }

  func testDefaultHostnameIsTheKernels() {
    let name = currentHostname()
    var buf = [CChar](repeating: 0, count: 256)
    XCTAssertEqual(gethostname(&buf, 255), 0)
    XCTAssertEqual(name, String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    XCTAssertTrue(hostClasses(labels: []).contains("host_" + canonical(name)))
  }

  private func canonical(_ s: String) -> String {
    String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
  }
}
