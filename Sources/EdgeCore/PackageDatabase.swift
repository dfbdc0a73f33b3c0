/// The installed-package databases the `package` promise reads, never writes: dpkg's `status`
/// (Debian, Raspberry Pi OS, Ubuntu) and apk's `installed` (Alpine, OpenWrt 25.12 on). The
/// system's own tools install and remove (PackagePromise); the agent only reads what they did.
public enum PackageBackend: UInt8, Sendable {
  case dpkg = 1, apk = 2

  /// The database beneath the root (no leading '/').
  public var database: String { self == .dpkg ? "var/lib/dpkg/status" : "lib/apk/db/installed" }
  public var name: String { self == .dpkg ? "dpkg" : "apk" }
}

/// What a `package` promise holds: `version` nil for any (present), `absent` for none.
public final class PackageSpec: Sendable {
  public let name: String
  public let version: String?

  public init(name: String, version: String?) {
    self.name = name
    self.version = version
  }
}

/// Installed packages by name, with their versions, parsed from a database's text.
public struct InstalledPackages: Sendable {
  var versions: [String: String] = [:]

  public init() {}

  /// dpkg's status file: paragraphs of `Field: value`; a package counts when its Status ends
  /// in "installed" (not config-files, half-installed, unpacked). A multi-arch name counts once.
  public init(dpkgStatus text: [UInt8]) {
    var name = "", version = "", installed = false
    func flush() {
      if installed && !name.isEmpty { versions[name] = version }
      name = ""; version = ""; installed = false
    }
    for line in text.split(separator: 0x0A, omittingEmptySubsequences: false) {
      if line.isEmpty { flush(); continue }
      if line.first == 0x20 || line.first == 0x09 { continue }   // a continuation
      guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
      let key = line[line.startIndex..<colon]
      var value = line[(colon + 1)...]
      while value.first == 0x20 { value = value.dropFirst() }
      if key.elementsEqual("Package".utf8) { name = String(decoding: value, as: UTF8.self) }
      else if key.elementsEqual("Version".utf8) { version = String(decoding: value, as: UTF8.self) }
      else if key.elementsEqual("Status".utf8) { installed = value.split(separator: 0x20).last?.elementsEqual("installed".utf8) ?? false }
    }
    flush()
  }

  /// apk's installed database: one package per paragraph, `P:` its name and `V:` its version.
  public init(apkInstalled text: [UInt8]) {
    var name = "", version = ""
    for line in text.split(separator: 0x0A, omittingEmptySubsequences: false) {
      if line.isEmpty {
        if !name.isEmpty { versions[name] = version }
        name = ""; version = ""
        continue
      }
      guard line.count >= 2, line[line.startIndex + 1] == UInt8(ascii: ":") else { continue }
      let value = String(decoding: line.dropFirst(2), as: UTF8.self)
      if line.first == UInt8(ascii: "P") { name = value } else if line.first == UInt8(ascii: "V") { version = value }
    }
    if !name.isEmpty { versions[name] = version }
  }

  public func version(of name: String) -> String? { versions[name] }

  /// Whether `spec` holds: installed (at its version, when it names one), or not installed.
  public func holds(_ spec: PackageSpec, absent: Bool) -> Bool {
    guard let have = versions[spec.name] else { return absent }
    if absent { return false }
    return spec.version == nil || spec.version == have
  }
}
