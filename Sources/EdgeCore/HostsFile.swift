/// The first IPv4 address /etc/hosts text gives for `name` (lowercase), or nil.
public func lookupHosts(_ text: [UInt8], _ name: String) -> String? {
  for line in text.split(separator: UInt8(ascii: "\n")) {
    var content = line
    if let hash = line.firstIndex(of: UInt8(ascii: "#")) { content = line[line.startIndex..<hash] }
    let fields = content.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
    guard fields.count >= 2 else { continue }
    let address = String(decoding: fields[0], as: UTF8.self)
    guard isIPv4Literal(address) else { continue }
    for f in fields.dropFirst() where asciiLowercased(String(decoding: f, as: UTF8.self)) == name { return address }
  }
  return nil
}

/// Four decimal octets 0-255 separated by dots.
public func isIPv4Literal(_ s: String) -> Bool { ipv4Value(s) != nil }

/// The address a dotted quad names, in host order; nil for anything else.
public func ipv4Value(_ s: String) -> UInt32? {
  let parts = s.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
  guard parts.count == 4 else { return nil }
  var address: UInt32 = 0
  for p in parts {
    guard !p.isEmpty, p.count <= 3 else { return nil }
    var v: UInt32 = 0
    for c in p {
      guard c >= 0x30 && c <= 0x39 else { return nil }
      v = v * 10 + UInt32(c - 0x30)
    }
    if v > 255 { return nil }
    address = address << 8 | v
  }
  return address
}
