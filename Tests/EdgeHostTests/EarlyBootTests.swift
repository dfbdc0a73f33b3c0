import Foundation
import XCTest
@testable import EdgeHost
import CEdge

final class EarlyBootTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }
  override func tearDown() { base.remove() }

  private func hostError(_ body: () throws(HostError) -> Void) -> HostError? {
    do { try body(); return nil } catch { return error }
  }

  func testMountOptionsSplitIntoFlagsAndData() {
    let m = MountSpec(device: "/dev/vda", path: "/var/lib/edgeagent", type: "ext4", options: "ro,noatime,nosuid,commit=5,errors=remount-ro")
    let (flags, data) = m.flagsAndData
    XCTAssertEqual(flags, UInt(MS_RDONLY) | UInt(MS_NOATIME) | UInt(MS_NOSUID))
    XCTAssertEqual(data, "commit=5,errors=remount-ro")
  }

  func testNoOptionsMeanNoFlagsAndNoData() {
    let (flags, data) = MountSpec(device: "tmpfs", path: "/run", type: "tmpfs").flagsAndData
    XCTAssertEqual(flags, 0)
    XCTAssertEqual(data, "")
  }

  func testLaterRwClearsRo() {
    XCTAssertEqual(MountSpec(device: "d", path: "/p", type: "ext4", options: "ro,rw").flagsAndData.0, 0)
  }

  func testMissingModuleFileIsAnOpenError() {
    let e = hostError { () throws(HostError) in _ = try loadKernelModule(base.path + "/virtio_blk.ko") }
    XCTAssertEqual(e?.errno, .noEntry)
    XCTAssertEqual(e?.operation, "open")
  }

  func testMountOfAMissingDeviceWaitsThenFailsAndLeavesTheMountPoint() {
    let spec = MountSpec(device: "/dev/edgeagent-test-missing", path: base.path + "/a/b/state", type: "ext4", waitMs: 50)
    let t0 = monotonicNanoseconds()
    let e = hostError { () throws(HostError) in _ = try mountFilesystem(spec) }
    XCTAssertNotNil(e)   // ENOENT as root, EPERM otherwise
    XCTAssertGreaterThanOrEqual(monotonicNanoseconds() - t0, 50_000_000)
    var isDir: ObjCBool = false
    XCTAssertTrue(FileManager.default.fileExists(atPath: spec.path, isDirectory: &isDir) && isDir.boolValue)
  }
}
