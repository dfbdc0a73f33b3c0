/// Bounds on one HTTP/1.1 message, so a hostile peer cannot make a parser hold more than this:
/// an upstream that sends 100 MB of headers is cut off at `maxHeaderBytes`.
public struct HTTPLimits: Sendable {
  /// The start line and all header lines, CRLFs included (and, for chunked bodies, trailers).
  public var maxHeaderBytes = 16 << 10
  public var maxHeaders = 64
  /// The decoded body.
  public var maxBodyBytes = 16 << 20

  public init(maxHeaderBytes: Int = 16 << 10, maxHeaders: Int = 64, maxBodyBytes: Int = 16 << 20) {
    self.maxHeaderBytes = maxHeaderBytes
    self.maxHeaders = maxHeaders
    self.maxBodyBytes = maxBodyBytes
  }
}

/// One header field; the name is lowercased (names are case-insensitive), the value trimmed.
public struct HTTPHeader: Equatable, Sendable {
  public var name: String
  public var value: String

  public init(_ name: String, _ value: String) {
    self.name = name
    self.value = value
  }
}

extension Array where Element == HTTPHeader {
  /// The value of the first field named `name` (lowercase).
  public func value(_ name: String) -> String? {
    for h in self where h.name == name { return h.value }
    return nil
  }
}

/// Why a message was refused. `kind` is stable for tests and metrics; `message` is for people.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable {
    case malformed, headersTooLarge, tooManyHeaders, bodyTooLarge, truncated, unsupported
  }
  public var kind: Kind
  public var message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}

/// The header block shared by requests and responses: accumulates bytes until the blank line,
/// refusing more than `limit` bytes or `maxHeaders` fields. Lines end in CRLF; obsolete line
/// folding, bare CR and control characters are refused.
struct HeaderBlock {
  var bytes: [UInt8] = []
  /// Where the search for CRLFCRLF resumes.
  var scanned = 0

  /// Appends from `input` up to the end of the header block. Returns how many bytes of input
  /// were used and whether the block is complete.
  mutating func take(_ input: UnsafeRawBufferPointer, limit: Int) throws(HTTPParseError) -> (used: Int, done: Bool) {
    var i = 0
    while i < input.count {
      let c = input[i]
      bytes.append(c)
      i += 1
      let n = bytes.count
      if c == 0x0A {
        if n >= 4 && bytes[n - 2] == 0x0D && bytes[n - 3] == 0x0A && bytes[n - 4] == 0x0D { return (i, true) }
        if n == 2 && bytes[0] == 0x0D { return (i, true) }   // an empty block (trailers)
      }
      if n > limit { throw HTTPParseError(.headersTooLarge, "header section larger than \(limit) bytes") }
    }
    return (i, false)
  }

  /// Splits the complete block into its first line and header fields.
  func parse(maxHeaders: Int, firstLine: Bool) throws(HTTPParseError) -> (String, [HTTPHeader]) {
    var lines: [ArraySlice<UInt8>] = []
    var start = 0
    var i = 0
    while i + 1 < bytes.count {
      if bytes[i] == 0x0D {
        guard bytes[i + 1] == 0x0A else { throw HTTPParseError(.malformed, "bare CR in the header section") }
        lines.append(bytes[start..<i])
        i += 2
        start = i
        continue
      }
      if bytes[i] == 0x0A { throw HTTPParseError(.malformed, "bare LF in the header section") }
      i += 1
    }
    // The last line is the empty one that ends the block.
    if !lines.isEmpty && lines.last!.isEmpty { lines.removeLast() }
    var first = ""
    if firstLine {
      guard let l = lines.first else { throw HTTPParseError(.malformed, "no start line") }
      first = try text(l)
      lines.removeFirst()
    }
    if lines.count > maxHeaders { throw HTTPParseError(.tooManyHeaders, "more than \(maxHeaders) header fields") }
    var headers: [HTTPHeader] = []
    headers.reserveCapacity(lines.count)
    for l in lines {
      guard let f = l.first else { continue }
      if f == 0x20 || f == 0x09 { throw HTTPParseError(.malformed, "obsolete header line folding") }
      guard let colon = l.firstIndex(of: UInt8(ascii: ":")), colon > l.startIndex else {
        throw HTTPParseError(.malformed, "header line without a name and ':'")
      }
      var name: [UInt8] = []
      for c in l[l.startIndex..<colon] {
        guard isToken(c) else { throw HTTPParseError(.malformed, "invalid character in a header name") }
        name.append(c >= 0x41 && c <= 0x5A ? c + 32 : c)
      }
      var a = colon + 1, b = l.endIndex
      while a < b && (l[a] == 0x20 || l[a] == 0x09) { a += 1 }
      while b > a && (l[b - 1] == 0x20 || l[b - 1] == 0x09) { b -= 1 }
      headers.append(HTTPHeader(String(decoding: name, as: UTF8.self), try text(l[a..<b])))
    }
    return (first, headers)
  }

  private func text(_ s: ArraySlice<UInt8>) throws(HTTPParseError) -> String {
    for c in s where (c < 0x20 && c != 0x09) || c == 0x7F { throw HTTPParseError(.malformed, "control character in the header section") }
    return String(decoding: s, as: UTF8.self)
  }
}

/// RFC 9110 tchar.
func isToken(_ c: UInt8) -> Bool {
  if (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) { return true }
  switch c {
  case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
       UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
       UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
    return true
  default: return false
  }
}

/// A Content-Length value: digits only, at most 15 of them.
func parseContentLength(_ s: String) -> Int? {
  let u = s.utf8
  guard !u.isEmpty, u.count <= 15 else { return nil }
  var v = 0
  for c in u {
    guard c >= 0x30 && c <= 0x39 else { return nil }
    v = v * 10 + Int(c - 0x30)
  }
  return v
}
