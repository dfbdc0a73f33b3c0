/// The agent binary a bundle names (its `agent` key): a version label and one blob per target.
///
/// ```
/// "agent": {"version": "0.2.0", "targets": {"x86_64": "sha256:…", "aarch64": "sha256:…"}}
/// ```
/// The version is the publisher's label for those binaries, compared as text: an agent whose
/// running version differs, and whose target has a blob, stages and tries it. Each target's
/// blob must be listed in the bundle's `blobs`, like any other content.
public struct AgentRelease: Equatable, Sendable {
  public var version: String
  /// In `knownTargets` order (sorted by name).
  public var targets: [AgentTarget]

  /// The targets the agent is built for (`agentTargetName`'s values).
  public static let knownTargets = ["aarch64", "armv7", "x86_64"]
  /// A version is a label for logs, status and file names: short, printable, no separators.
  public static let maxVersionBytes = 64

  public init(version: String, targets: [AgentTarget]) {
    self.version = version
    self.targets = targets
  }

  /// The blob for `target`, if the release has one.
  public func digest(for target: String) -> Digest? {
    for t in targets where t.name == target { return t.digest }
    return nil
  }

  /// Whether `v` may be a version label: 1 to 64 bytes of letters, digits, `.`, `-`, `_`, `+`, `~`.
  public static func isVersion(_ v: String) -> Bool {
    if v.isEmpty || v.utf8.count > maxVersionBytes { return false }
    for b in v.utf8 where !isWordByte(b) && b != UInt8(ascii: ".") && b != UInt8(ascii: "-") && b != UInt8(ascii: "+")
      && b != UInt8(ascii: "~") { return false }
    return true
  }

  /// Decodes the `agent` member of a bundle. Errors name the key and its line:column.
  public static func decode(_ v: JSONNode) throws(BundleFormatError) -> AgentRelease {
    guard let members = v.members else { throw BundleFormatError("key \"agent\": expected an object with \"version\" and \"targets\"", at: v.position) }
    var version: String? = nil
    var targets: [AgentTarget] = []
    var sawTargets = false
    for m in members {
      switch m.key {
      case "version":
        guard let s = m.value.string, isVersion(s) else {
          throw BundleFormatError("key \"agent.version\": expected 1 to \(maxVersionBytes) letters, digits or . - _ + ~", at: m.value.position)
        }
        version = s
      case "targets":
        guard let list = m.value.members, !list.isEmpty else {
          throw BundleFormatError("key \"agent.targets\": expected an object of target -> \"sha256:…\" (targets: aarch64, armv7, x86_64)", at: m.value.position)
        }
        sawTargets = true
        for t in list {
          guard knownTargets.contains(t.key) else {
            throw BundleFormatError("key \"agent.targets\": unknown target \"\(t.key)\" (known: aarch64, armv7, x86_64)", at: t.keyPosition)
          }
          guard let s = t.value.string, s.hasPrefix("sha256:"), let d = Digest(hex: String(s.dropFirst(7))) else {
            throw BundleFormatError("key \"agent.targets.\(t.key)\": expected \"sha256:\" and 64 hex digits", at: t.value.position)
          }
          if targets.contains(where: { $0.name == t.key }) {
            throw BundleFormatError("key \"agent.targets\": \"\(t.key)\" is listed twice", at: t.keyPosition)
          }
          targets.append(AgentTarget(name: t.key, digest: d))
        }
      default:
        throw BundleFormatError("key \"agent\": unknown key \"\(m.key)\" (allowed: version, targets)", at: m.keyPosition)
      }
    }
    guard let version else { throw BundleFormatError("key \"agent\": missing \"version\"", at: v.position) }
    guard sawTargets else { throw BundleFormatError("key \"agent\": missing \"targets\"", at: v.position) }
    // In knownTargets' order (sorted): no sort to compile for so few.
    var sorted: [AgentTarget] = []
    for k in knownTargets { for t in targets where t.name == k { sorted.append(t) } }
    return AgentRelease(version: version, targets: sorted)
  }

  /// The target an executable is for, from its ELF header (little-endian: the three targets
  /// are), or nil when the bytes are not such an executable. Publishing and staging check a
  /// binary against the target it is offered for before anything runs it.
  public static func target(ofELF b: [UInt8]) -> String? {
    guard b.count >= 20, b[0] == 0x7f, b[1] == UInt8(ascii: "E"), b[2] == UInt8(ascii: "L"), b[3] == UInt8(ascii: "F"),
          b[5] == 1 else { return nil }
    switch (b[4], UInt16(b[18]) | UInt16(b[19]) << 8) {
    case (2, 62): return "x86_64"
    case (2, 183): return "aarch64"
    case (1, 40): return "armv7"
    default: return nil
    }
  }

  /// The `agent` member as written into bundle.json.
  public func write(_ w: inout JSONWriter) {
    w.key("agent")
    w.beginObject()
    w.member("version", version)
    w.key("targets")
    w.beginObject()
    for t in targets { w.member(t.name, "sha256:" + t.digest.hex) }
    w.endObject()
    w.endObject()
  }
}

/// One target's binary.
public struct AgentTarget: Equatable, Sendable {
  public var name: String
  public var digest: Digest

  public init(name: String, digest: Digest) {
    self.name = name
    self.digest = digest
  }
}
