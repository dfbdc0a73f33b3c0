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
  /// The body (`Content-Length` bytes; empty for GET and HEAD).
  public var body: [UInt8] = []

  /// The value of query parameter `name` (`wait=30&have=41`).
  public func parameter(_ name: String) -> String? {
    for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
      let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
      if parts.count == 2 && String(decoding: parts[0], as: UTF8.self) == name { return String(decoding: parts[1], as: UTF8.self) }
    }
    return nil
  }
}

/// A strict, bounded, incremental request parser. A body comes only with `Content-Length`, at
/// most `limits.maxBodyBytes` (0 by default: a server that only answers GET and HEAD refuses
/// any body, so a client cannot make it hold more than the header limit); `Transfer-Encoding`
/// is refused.
public struct HTTPRequestParser {
  public let limits: HTTPLimits
  var block = HeaderBlock()
  public private(set) var request: HTTPRequest? = nil
  /// The head, while its body is still arriving, and the body's length.
  var partial: HTTPRequest? = nil
  var bodyLength = 0

  public init(limits: HTTPLimits = HTTPLimits(maxHeaderBytes: 8 << 10, maxHeaders: 32, maxBodyBytes: 0)) {
    self.limits = limits
  }

  /// Consumes `input`; returns the request once its header section and body are complete.
  /// Bytes after it (pipelining) are not read: the server answers one request per connection.
  public mutating func feed(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPRequest? {
    if let request { return request }
    var rest = input
    if partial == nil {
      let (used, done) = try block.take(input, limit: limits.maxHeaderBytes)
      guard done else { return nil }
      let (h, n) = try head()
      partial = h
      bodyLength = n
      rest = UnsafeRawBufferPointer(rebasing: input[used...])
    }
    let need = bodyLength - partial!.body.count
    partial!.body.append(contentsOf: rest.prefix(need))
    guard partial!.body.count == bodyLength else { return nil }
    request = partial
    partial = nil
    return request
  }

  func head() throws(HTTPParseError) -> (HTTPRequest, Int) {
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
    var length = 0
    for h in headers {
      if h.name == "transfer-encoding" { throw HTTPParseError(.bodyTooLarge, "chunked request bodies are not accepted") }
      if h.name == "content-length" {
        guard let n = Int(h.value), n >= 0 else { throw HTTPParseError(.malformed, "invalid Content-Length") }
        guard n <= limits.maxBodyBytes else {
          throw HTTPParseError(.bodyTooLarge, limits.maxBodyBytes == 0 ? "request bodies are not accepted" : "request body over \(limits.maxBodyBytes) bytes")
        }
        length = n
      }
    }
    var path = target, query: [UInt8] = []
    if let q = target.firstIndex(of: UInt8(ascii: "?")) {
      path = Array(target[..<q])
      query = Array(target[(q + 1)...])
    }
    let r = HTTPRequest(method: method, path: String(decoding: path, as: UTF8.self), query: String(decoding: query, as: UTF8.self),
                        headers: headers, minorVersion: version == "HTTP/1.1" ? 1 : 0)
    return (r, length)
  }
}
