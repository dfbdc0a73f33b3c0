/// Where bundles come from: `http://HOST[:PORT][/PATH]` (a web server, CDN or relay) or
/// `file:///DIR` (offline media). The path is a directory prefix: the bundle layout
/// (`bundle.json`, `bundle.json.sig`, `blobs/<sha256>`) is appended to it. No userinfo, query or
/// fragment: trust comes from the signature, never from the channel, so there is nothing to
/// configure there.
public struct UpstreamURL: Equatable, Hashable, Sendable, CustomStringConvertible {
  public enum Scheme: Sendable { case http, file }

  public var scheme: Scheme
  /// http: the host name or IPv4 literal; file: "".
  public var host: String
  /// http: 80 unless given; file: 0.
  public var port: UInt16
  /// The directory prefix, starting with '/' and without a trailing '/' ("" for the root of an
  /// http server).
  public var path: String

  public init?(_ text: String) {
    let u = Array(text.utf8)
    func hasPrefix(_ p: String) -> Bool { text.hasPrefix(p) }
    for c in u where c <= 0x20 || c >= 0x7F || c == UInt8(ascii: "?") || c == UInt8(ascii: "#") { return nil }
    if hasPrefix("file://") {
      let rest = String(decoding: u[7...], as: UTF8.self)
      guard rest.utf8.first == UInt8(ascii: "/") else { return nil }
      scheme = .file
      host = ""
      port = 0
      path = UpstreamURL.trimmedPath(rest)
      return
    }
    guard hasPrefix("http://") else { return nil }
    let rest = Array(u[7...])
    let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.count
    let authority = Array(rest[0..<slash])
    guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")) else { return nil }
    var hostBytes = authority
    var portValue: UInt16 = 80
    if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
      hostBytes = Array(authority[0..<colon])
      let digits = authority[(colon + 1)...]
      guard !digits.isEmpty, digits.count <= 5 else { return nil }
      var p = 0
      for c in digits {
        guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
        p = p * 10 + Int(c - UInt8(ascii: "0"))
      }
      guard p > 0 && p <= 65535 else { return nil }
      portValue = UInt16(p)
    }
    guard !hostBytes.isEmpty, hostBytes.count <= 253 else { return nil }
    for c in hostBytes {
      let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
      if !ok { return nil }
    }
    scheme = .http
    host = String(decoding: hostBytes, as: UTF8.self)
    port = portValue
    path = UpstreamURL.trimmedPath(String(decoding: rest[slash...], as: UTF8.self))
  }

  private static func trimmedPath(_ p: String) -> String {
    var u = Array(p.utf8)
    while u.last == UInt8(ascii: "/") { u.removeLast() }
    return String(decoding: u, as: UTF8.self)
  }

  /// The path of `name` (e.g. "bundle.json", "blobs/<hex>") under this upstream.
  public func path(of name: String) -> String { path + "/" + name }

  public var description: String {
    switch scheme {
    case .file: return "file://" + path
    case .http: return "http://\(host)" + (port == 80 ? "" : ":\(port)") + path
    }
  }
}
