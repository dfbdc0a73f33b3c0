/// A request as the relay reads it: method, target split into path and query, header fields.
public struct HTTPRequest: Sendable {
  public var method: String
  /// The target's path, e.g. "/bundle.json" (not percent-decoded: the relay's names need none).
  public var path: String
  /// The query string without '?', or "".
  public var query: String
  public var headers: [HTTPHeader]
  /// HTTP/1.0 or HTTP/1.1.
  public var minorVersion: Int

  /// The value of query parameter `name` (`wait=30&have=41`).
  public func parameter(_ name: String) -> String? {
    for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
      let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
      if parts.count == 2 && String(decoding: parts[0], as: UTF8.self) == name { return String(decoding: parts[1], as: UTF8.self) }
    }
    return nil
  }
}

/// A strict, bounded, incremental request parser for a server that only answers GET and HEAD:
/// a request with a body (Content-Length above 0, or Transfer-Encoding) is refused, so a client
/// cannot make the server hold more than the header limit.
public struct HTTPRequestParser {
  public let limits: HTTPLimits
  var block = HeaderBlock()
  public private(set) var request: HTTPRequest? = nil

  public init(limits: HTTPLimits = HTTPLimits(maxHeaderBytes: 8 << 10, maxHeaders: 32, maxBodyBytes: 0)) {
    self.limits = limits
  }

  /// Consumes `input`; returns the request once its header section is complete. Bytes after it
  /// (pipelining) are not read: the server answers one request per connection.
  public mutating func feed(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPRequest? {
    if let request { return request }
    let (_, done) = try block.take(input, limit: limits.maxHeaderBytes)
    guard done else { return nil }
    let (first, headers) = try block.parse(maxHeaders: limits.maxHeaders, firstLine: true)
    let parts = first.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
    guard parts.count == 3 else { throw HTTPParseError(.malformed, "invalid request line") }
    let method = String(decoding: parts[0], as: UTF8.self)
    for c in parts[0] where !isToken(c) { throw HTTPParseError(.malformed, "invalid method") }
    let target = Array(parts[1])
    let version = String(decoding: parts[2], as: UTF8.self)
    guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw HTTPParseError(.unsupported, "unsupported version") }
    guard target.first == UInt8(ascii: "/") else { throw HTTPParseError(.malformed, "request target must be an absolute path") }
    for c in target where c <= 0x20 || c >= 0x7F { throw HTTPParseError(.malformed, "invalid request target") }
    for h in headers {
      if h.name == "transfer-encoding" || (h.name == "content-length" && h.value != "0") {
        throw HTTPParseError(.bodyTooLarge, "request bodies are not accepted")
      }
    }
    var path = target, query: [UInt8] = []
    if let q = target.firstIndex(of: UInt8(ascii: "?")) {
      path = Array(target[..<q])
      query = Array(target[(q + 1)...])
    }
    let r = HTTPRequest(method: method, path: String(decoding: path, as: UTF8.self), query: String(decoding: query, as: UTF8.self),
                        headers: headers, minorVersion: version == "HTTP/1.1" ? 1 : 0)
    request = r
    return r
  }
}
