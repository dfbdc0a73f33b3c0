/// A response's status line and header fields.
public struct HTTPResponseHead: Sendable {
  public var status: Int
  public var reason: String
  public var headers: [HTTPHeader]
}

/// A strict, bounded, incremental HTTP/1.1 response parser: feed it bytes as they arrive, in
/// any split; it says when the response is complete. Bodies are length-delimited, chunked, or
/// delimited by the connection's close (`finish()`); responses to HEAD and 1xx/204/304 have none.
///
/// Refused: a header section past `limits.maxHeaderBytes` (checked as bytes arrive, so a peer
/// streaming endless headers is cut off at the limit), more than `maxHeaders` fields, a body
/// past `maxBodyBytes` (a Content-Length above it is refused before any body byte), both
/// Content-Length and Transfer-Encoding, conflicting Content-Lengths, transfer codings other
/// than chunked, malformed chunk sizes, and end of input inside a message (`truncated`).
/// Pure: no I/O, no clock.
public struct HTTPResponseParser {
  enum State {
    case head
    case fixed(remaining: Int)
    case chunkSize
    case chunkData(remaining: Int)
    case chunkDataEnd
    case trailers
    case untilClose
    case done
  }

  public let limits: HTTPLimits
  let headRequest: Bool
  var state = State.head
  var block = HeaderBlock()
  var line: [UInt8] = []
  public private(set) var head: HTTPResponseHead? = nil
  public private(set) var body: [UInt8] = []

  /// `headRequest`: the request was HEAD, so the response has no body whatever it says.
  public init(limits: HTTPLimits = HTTPLimits(), headRequest: Bool = false) {
    self.limits = limits
    self.headRequest = headRequest
  }

  public var isComplete: Bool { if case .done = state { return true } else { return false } }

  /// Consumes `input`; returns true once the response is complete (bytes after it are ignored:
  /// this client sends one request per connection).
  @discardableResult
  public mutating func feed(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> Bool {
    var i = 0
    while i < input.count {
      switch state {
      case .done:
        return true
      case .head:
        let (used, done) = try block.take(UnsafeRawBufferPointer(rebasing: input[i...]), limit: limits.maxHeaderBytes)
        i += used
        if done { try startBody() }
      case .fixed(let remaining):
        let n = min(remaining, input.count - i)
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<i + n]))
        i += n
        state = remaining - n == 0 ? .done : .fixed(remaining: remaining - n)
      case .untilClose:
        let n = input.count - i
        if body.count + n > limits.maxBodyBytes { throw HTTPParseError(.bodyTooLarge, "body larger than \(limits.maxBodyBytes) bytes") }
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i...]))
        i = input.count
      case .chunkSize:
        let c = input[i]
        i += 1
        line.append(c)
        if line.count > 1024 { throw HTTPParseError(.malformed, "chunk size line longer than 1024 bytes") }
        if c == 0x0A { try chunkSizeLine() }
      case .chunkData(let remaining):
        let n = min(remaining, input.count - i)
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<i + n]))
        i += n
        state = remaining - n == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - n)
      case .chunkDataEnd:
        line.append(input[i])
        i += 1
        if line.count == 2 {
          guard line[0] == 0x0D && line[1] == 0x0A else { throw HTTPParseError(.malformed, "chunk data not followed by CRLF") }
          line.removeAll()
          state = .chunkSize
        }
      case .trailers:
        let (used, done) = try block.take(UnsafeRawBufferPointer(rebasing: input[i...]), limit: limits.maxHeaderBytes)
        i += used
        if done {
          _ = try block.parse(maxHeaders: limits.maxHeaders, firstLine: false)
          state = .done
        }
      }
    }
    return isComplete
  }

  /// The peer closed the connection: completes a close-delimited body; anywhere else the
  /// response was cut short.
  public mutating func finish() throws(HTTPParseError) {
    switch state {
    case .done: return
    case .untilClose: state = .done
    case .head: throw HTTPParseError(.truncated, "connection closed before the end of the headers")
    default: throw HTTPParseError(.truncated, "connection closed after \(body.count) body bytes, before the end of the body")
    }
  }

  mutating func startBody() throws(HTTPParseError) {
    let (first, headers) = try block.parse(maxHeaders: limits.maxHeaders, firstLine: true)
    let u = Array(first.utf8)
    // "HTTP/1.1 200 OK": version, SP, three digits, then SP and a reason (possibly empty).
    guard u.count >= 12, first.hasPrefix("HTTP/1."), u[7] == 0x30 || u[7] == 0x31, u[8] == 0x20,
          u.count == 12 || u[12] == 0x20 else {
      throw HTTPParseError(.malformed, "invalid status line")
    }
    var status = 0
    for c in u[9..<12] {
      guard c >= 0x30 && c <= 0x39 else { throw HTTPParseError(.malformed, "invalid status code") }
      status = status * 10 + Int(c - 0x30)
    }
    guard status >= 100 else { throw HTTPParseError(.malformed, "invalid status code") }
    let reason = u.count > 13 ? String(decoding: u[13...], as: UTF8.self) : ""
    head = HTTPResponseHead(status: status, reason: reason, headers: headers)
    block = HeaderBlock()
    if status < 200 { throw HTTPParseError(.unsupported, "interim \(status) responses are not expected") }

    var length: Int? = nil
    var chunked = false
    for h in headers {
      if h.name == "content-length" {
        guard let n = parseContentLength(h.value) else { throw HTTPParseError(.malformed, "invalid Content-Length") }
        if let l = length, l != n { throw HTTPParseError(.malformed, "conflicting Content-Length fields") }
        length = n
      } else if h.name == "transfer-encoding" {
        guard asciiLowercased(h.value) == "chunked", !chunked else {
          throw HTTPParseError(.unsupported, "transfer coding \"\(h.value)\" (only chunked is supported)")
        }
        chunked = true
      }
    }
    if chunked && length != nil { throw HTTPParseError(.malformed, "both Content-Length and Transfer-Encoding") }
    if headRequest || status == 204 || status == 304 { state = .done; return }
    if chunked { state = .chunkSize; return }
    if let length {
      if length > limits.maxBodyBytes { throw HTTPParseError(.bodyTooLarge, "Content-Length \(length) is above the limit of \(limits.maxBodyBytes) bytes") }
      body.reserveCapacity(length)
      state = length == 0 ? .done : .fixed(remaining: length)
      return
    }
    state = .untilClose
  }

  mutating func chunkSizeLine() throws(HTTPParseError) {
    guard line.count >= 3, line[line.count - 2] == 0x0D else { throw HTTPParseError(.malformed, "chunk size line without CRLF") }
    var size = 0
    var digits = 0
    for c in line[0..<(line.count - 2)] {
      if c == UInt8(ascii: ";") { break }   // chunk extensions are ignored
      guard let d = hexValue(c) else { throw HTTPParseError(.malformed, "invalid chunk size") }
      digits += 1
      if digits > 8 { throw HTTPParseError(.bodyTooLarge, "chunk size has too many digits") }
      size = size << 4 | Int(d)
    }
    guard digits > 0 else { throw HTTPParseError(.malformed, "empty chunk size") }
    line.removeAll()
    if body.count + size > limits.maxBodyBytes { throw HTTPParseError(.bodyTooLarge, "body larger than \(limits.maxBodyBytes) bytes") }
    state = size == 0 ? .trailers : .chunkData(remaining: size)
  }
}

/// ASCII-only lowercase (no Unicode tables needed for protocol tokens).
public func asciiLowercased(_ s: String) -> String {
  var u = Array(s.utf8)
  for i in u.indices where u[i] >= 0x41 && u[i] <= 0x5A { u[i] += 32 }
  return String(decoding: u, as: UTF8.self)
}
