import EdgeCore
import XCTest

/// The package databases as dpkg and apk write them.
final class PackageDatabaseTests: XCTestCase {
  func testDpkgStatusCountsOnlyInstalledPackages() {
    let status = """
      Package: libc6
      Status: install ok installed
      Architecture: amd64
      Multi-Arch: same
      Version: 2.36-9+deb12u4
      Description: GNU C Library: Shared libraries
       Contains the standard libraries that are used by nearly all programs on
       the system.

      Package: old-tool
      Status: deinstall ok config-files
      Version: 1.0

      Package: half
      Status: install reinstreq half-installed
      Version: 2.0

      Package: libc6
      Status: install ok installed
      Architecture: i386
      Version: 2.36-9+deb12u4

      Package: nginx
      Version: 1:1.22.1-9
      Status: hold ok installed
      """
    let db = InstalledPackages(dpkgStatus: Array(status.utf8))
    XCTAssertEqual(db.version(of: "libc6"), "2.36-9+deb12u4")
    XCTAssertEqual(db.version(of: "nginx"), "1:1.22.1-9", "fields in any order, epoch kept, no final newline")
    XCTAssertNil(db.version(of: "old-tool"), "config-files only is not installed")
    XCTAssertNil(db.version(of: "half"))
    XCTAssertTrue(db.holds(PackageSpec(name: "nginx", version: nil), absent: false))
    XCTAssertTrue(db.holds(PackageSpec(name: "nginx", version: "1:1.22.1-9"), absent: false))
    XCTAssertFalse(db.holds(PackageSpec(name: "nginx", version: "1.22.1-9"), absent: false))
    XCTAssertTrue(db.holds(PackageSpec(name: "old-tool", version: nil), absent: true))
    XCTAssertFalse(db.holds(PackageSpec(name: "libc6", version: nil), absent: true))
  }

  func testApkInstalledIsReadByItsPAndVLines() {
    let installed = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:aarch64\nS:383152\n\nC:Q1def=\nP:dropbear\nV:2024.85-r0\nA:aarch64\nr:so:libc.musl-aarch64.so.1\n"
    let db = InstalledPackages(apkInstalled: Array(installed.utf8))
    XCTAssertEqual(db.version(of: "musl"), "1.2.5-r0")
    XCTAssertEqual(db.version(of: "dropbear"), "2024.85-r0")
    XCTAssertNil(db.version(of: "so"))
  }
}
