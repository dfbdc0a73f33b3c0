/// What the agent knows of its host, read once per run (never per promise; EdgeHost's
/// readFacts): for classes (`if`), templates (`{{facts.os_id}}`) and `edgeagent facts`. Plain
/// values here, so that the decoder can check a template's names against the facts' shape. The distribution comes from the managed
/// root's os-release (read beneath the root, as /etc/passwd is); the kernel, CPUs, memory and
/// addresses from the kernel, which a root does not change.
public struct HostFacts: Sendable, Equatable {
  public var hostname = ""
  /// The agent's host id (reports, splay): from the state or the config; "" when there is none.
  public var hostID = ""
  public var arch = ""
  /// `uname -r`.
  public var kernel = ""
  /// os-release's ID, VERSION_ID, PRETTY_NAME and ID_LIKE: "debian", "12", …
  public var osID = ""
  public var osVersionID = ""
  public var osName = ""
  public var osLike: [String] = []
  public var cpus = 0
  public var memoryMB = 0
  public var interfaces: [NetworkInterface] = []
  public var labels: [String] = []

  public init() {}

  /// Every address of every interface but loopback's, IPv4 then IPv6, in interface order.
  public var ipv4: [String] { interfaces.flatMap { $0.loopback ? [] : $0.ipv4 } }
  public var ipv6: [String] { interfaces.flatMap { $0.loopback ? [] : $0.ipv6 } }
}

public struct NetworkInterface: Sendable, Equatable {
  public var name: String
  public var loopback = false
  public var ipv4: [String] = []
  public var ipv6: [String] = []

  public init(name: String) { self.name = name }
}

/// A shell-quoted value, as os-release(5) allows: "…", '…' or bare, with \ escapes in "…".
private func osReleaseValue(_ v: ArraySlice<UInt8>) -> String {
  var out: [UInt8] = []
  var quote: UInt8 = 0
  var k = v.startIndex
  if k < v.endIndex && (v[k] == 0x22 || v[k] == 0x27) { quote = v[k]; k += 1 }
  while k < v.endIndex {
    let c = v[k]
    if quote != 0 && c == quote { break }
    if c == 0x5C && quote == 0x22 && k + 1 < v.endIndex { k += 1; out.append(v[k]); k += 1; continue }
    out.append(c)
    k += 1
  }
  return String(decoding: out, as: UTF8.self)
}

extension HostFacts {
  /// The classes the facts define beyond `hostClasses`' (arch, hostname, labels): the
  /// distribution (`debian`, `debian_12`, and each ID_LIKE, as `ubuntu` hosts define `debian`).
  public var osClasses: [String] {
    var out: [String] = []
    if !osID.isEmpty {
      out.append(canonicalClassName(osID))
      let major = osVersionID.split(separator: ".").first.map { String($0) } ?? ""
      if !major.isEmpty { out.append(canonicalClassName(osID + "_" + major)) }
    }
    for l in osLike where !l.isEmpty { out.append(canonicalClassName(l)) }
    return out
  }

  /// The facts as a template sees them (`{{facts.hostname}}`, or `{{hostname}}` when no var of
  /// that name hides it) and `edgeagent facts --json` prints them.
  public var json: JSONNode {
    func s(_ v: String) -> JSONNode { JSONNode(.string(v), at: .none) }
    func list(_ v: [String]) -> JSONNode { JSONNode(.array(v.map { s($0) }), at: .none) }
    func m(_ k: String, _ v: JSONNode) -> JSONMember { JSONMember(key: k, keyPosition: .none, value: v) }
    var ifs: [JSONNode] = []
    for i in interfaces {
      ifs.append(JSONNode(.object([m("name", s(i.name)), m("loopback", JSONNode(.bool(i.loopback), at: .none)),
                                   m("ipv4", list(i.ipv4)), m("ipv6", list(i.ipv6))]), at: .none))
    }
    return JSONNode(.object([
      m("hostname", s(hostname)), m("host_id", s(hostID)), m("arch", s(arch)), m("kernel", s(kernel)),
      m("os", s("linux")), m("os_id", s(osID)), m("os_version_id", s(osVersionID)), m("os_name", s(osName)),
      m("os_like", list(osLike)),
      m("cpus", JSONNode(.number(String(cpus)), at: .none)), m("memory_mb", JSONNode(.number(String(memoryMB)), at: .none)),
      m("ipv4", list(ipv4)), m("ipv6", list(ipv6)), m("interfaces", JSONNode(.array(ifs), at: .none)),
      m("labels", list(labels)),
    ]), at: .none)
  }

  /// Takes ID, VERSION_ID, PRETTY_NAME and ID_LIKE from os-release(5) text.
  public mutating func parseOSRelease(_ bytes: [UInt8]) {
    for line in bytes.split(separator: 0x0A) {
      guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
      let key = String(decoding: line[line.startIndex..<eq], as: UTF8.self)
      let value = osReleaseValue(line[(eq + 1)...])
      switch key {
      case "ID": osID = value
      case "VERSION_ID": osVersionID = value
      case "PRETTY_NAME": osName = value
      case "ID_LIKE": osLike = value.split(separator: " ").map { String($0) }
      default: break
      }
    }
  }
}
