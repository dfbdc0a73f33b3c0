/// DNS wire format (RFC 1035) for a stub resolver: the query for a name's A records, and the
/// reading of its answer. A response is hostile input: every length, count and compression
/// pointer is checked against the packet, a pointer must point before itself (so a chain of
/// them always ends), a name stops at 255 bytes and a CNAME chain at `maxChain` links. Nothing
/// here does I/O.
public enum DNSMessage {
  /// The longest CNAME chain followed from the question to its A records.
  public static let maxChain = 8
  /// A records kept from one answer; the rest are ignored.
  public static let maxAddresses = 16

  /// A standard query with recursion desired: one question, `name` IN A.
  /// Errors: `badName` for an empty label, a label over 63 bytes or a name over 253.
  public static func query(id: UInt16, name: String) throws(DNSError) -> [UInt8] {
    var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
    out += try encodeName(name)
    out += [0, 1, 0, 1]
    return out
  }

  /// `name` as length-prefixed labels ending in the root label; one trailing dot is allowed.
  static func encodeName(_ name: String) throws(DNSError) -> [UInt8] {
    var bytes = Array(name.utf8)
    if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
    guard !bytes.isEmpty, bytes.count <= 253 else { throw .badName(name) }
    var out: [UInt8] = []
    for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
      guard !label.isEmpty, label.count <= 63 else { throw .badName(name) }
      out.append(UInt8(label.count))
      out += label
    }
    out.append(0)
    return out
  }

  /// Reads the response to `query(id:name:)`. A response with another ID, without the QR bit,
  /// or with another question is `mismatch` (not ours: keep waiting); a broken one is
  /// `malformed`. The addresses are the A records at the end of the CNAME chain that starts at
  /// the question, as dotted quads.
  public static func parseResponse(_ packet: [UInt8], id: UInt16, name: String) throws(DNSError) -> DNSAnswer {
    var r = DNSReader(packet)
    let gotID = try r.u16()
    guard gotID == id else { throw .mismatch("another ID") }
    let flags = try r.u16()
    let qd = try r.u16(), an = try r.u16()
    _ = try r.u16(); _ = try r.u16()
    guard flags & 0x8000 != 0 else { throw .mismatch("a query") }
    guard flags & 0x7800 == 0 else { throw .malformed("not a standard query's opcode") }
    guard qd == 1 else { throw .mismatch("not one question") }
    let qname = try r.name()
    let qtype = try r.u16(), qclass = try r.u16()
    let wanted = try canonical(name)
    guard qname == wanted, qtype == 1, qclass == 1 else { throw .mismatch("another question") }

    var answer = DNSAnswer(rcode: UInt8(flags & 0xF), truncated: flags & 0x0200 != 0)
    // Collected first, then walked: servers may list the chain's links in any order.
    var cnames: [(owner: String, target: String)] = []
    var records: [(owner: String, address: String)] = []
    for _ in 0..<Int(an) {
      let owner = try r.name()
      let type = try r.u16(), klass = try r.u16()
      _ = try r.u32()
      let length = Int(try r.u16())
      let end = r.offset + length
      guard end <= packet.count else { throw .malformed("record data runs past the end of the packet") }
      if klass == 1 && type == 1 {
        guard length == 4 else { throw .malformed("an A record not of 4 bytes") }
        if records.count < maxAddresses {
          records.append((owner, "\(packet[r.offset]).\(packet[r.offset + 1]).\(packet[r.offset + 2]).\(packet[r.offset + 3])"))
        }
      } else if klass == 1 && type == 5 && cnames.count < 64 {
        let target = try r.name()
        guard r.offset <= end else { throw .malformed("a CNAME runs past its record") }
        cnames.append((owner, target))
      }
      r.offset = end
    }
    var current = wanted
    for _ in 0...maxChain {
      for rec in records where rec.owner == current { answer.addresses.append(rec.address) }
      if !answer.addresses.isEmpty { break }
      guard let link = cnames.first(where: { $0.owner == current }) else { break }
      current = link.target
    }
    answer.canonicalName = current
    return answer
  }

  /// Lowercase, without the trailing dot: how names are compared (DNS is case-insensitive).
  static func canonical(_ name: String) throws(DNSError) -> String {
    let encoded = try encodeName(name)
    var r = DNSReader(encoded)
    do { return try r.name() } catch { throw .badName(name) }
  }
}

/// What a response said.
public struct DNSAnswer: Equatable {
  /// 0 no error, 2 server failure, 3 no such name (NXDOMAIN), 5 refused, ...
  public var rcode: UInt8
  /// TC: the answer did not fit in the datagram; ask again over TCP.
  public var truncated: Bool
  /// IPv4 dotted quads, in the server's order; empty when the name has no A record.
  public var addresses: [String] = []
  /// Where the CNAME chain ended (the question's name when there was none).
  public var canonicalName = ""

  public init(rcode: UInt8, truncated: Bool, addresses: [String] = []) {
    self.rcode = rcode
    self.truncated = truncated
    self.addresses = addresses
  }
}

/// Why a DNS message could not be made or read.
public enum DNSError: Error, Equatable, CustomStringConvertible {
  /// The name cannot be asked for.
  case badName(String)
  /// The response breaks the format: truncated, a bad pointer, a record past its end.
  case malformed(String)
  /// A well-formed message that is not the answer to our query.
  case mismatch(String)

  public var description: String {
    switch self {
    case .badName(let s): return "not a name DNS can carry: " + s
    case .malformed(let s): return "malformed DNS response: " + s
    case .mismatch(let s): return "not the answer to our query: " + s
    }
  }
}

/// Big-endian reads from a packet, each checked against its end.
struct DNSReader {
  let packet: [UInt8]
  var offset = 0

  init(_ packet: [UInt8]) { self.packet = packet }

  mutating func u16() throws(DNSError) -> UInt16 {
    guard packet.count - offset >= 2 else { throw .malformed("truncated") }
    defer { offset += 2 }
    return UInt16(packet[offset]) << 8 | UInt16(packet[offset + 1])
  }

  mutating func u32() throws(DNSError) -> UInt32 {
    let hi = try u16()
    return UInt32(hi) << 16 | UInt32(try u16())
  }

  /// A possibly compressed name, lowercased, labels joined by dots ("" for the root). The
  /// offset moves past the name where it starts, not where its pointers lead.
  mutating func name() throws(DNSError) -> String {
    var out: [UInt8] = []
    var at = offset
    var jumped = false
    var wire = 1
    while true {
      guard at < packet.count else { throw .malformed("a name runs past the end of the packet") }
      let len = Int(packet[at])
      if len & 0xC0 == 0xC0 {
        guard at + 1 < packet.count else { throw .malformed("a name runs past the end of the packet") }
        let target = (len & 0x3F) << 8 | Int(packet[at + 1])
        // Only backwards: every jump lowers `at`, so a chain of pointers cannot loop.
        guard target < at else { throw .malformed("a compression pointer does not point backwards") }
        if !jumped { offset = at + 2; jumped = true }
        at = target
        continue
      }
      guard len & 0xC0 == 0 else { throw .malformed("a reserved label type") }
      if len == 0 {
        if !jumped { offset = at + 1 }
        return String(decoding: out, as: UTF8.self)
      }
      wire += len + 1
      guard wire <= 255 else { throw .malformed("a name longer than 255 bytes") }
      guard at + 1 + len <= packet.count else { throw .malformed("a label runs past the end of the packet") }
      if !out.isEmpty { out.append(UInt8(ascii: ".")) }
      for c in packet[(at + 1)...(at + len)] { out.append(c >= 0x41 && c <= 0x5A ? c + 32 : c) }
      at += 1 + len
    }
  }
}
