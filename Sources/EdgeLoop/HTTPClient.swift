import CEdge
import EdgeCore
import EdgeHost

/// A complete response.
public struct HTTPClientResponse {
  public var status: Int
  public var headers: [HTTPHeader]
  public var body: [UInt8]
}

/// Why a request got no complete response.
public enum HTTPClientError: Error, CustomStringConvertible {
  /// The host name could not be turned into an IPv4 address (hosts file, then DNS).
  case resolve(ResolveError)
  /// connect, read or write failed.
  case io(LoopError)
  /// The response broke the protocol or a limit (too many header bytes, body too large,
  /// truncated).
  case parse(HTTPParseError)
  /// No byte for `idleMs`, or the whole exchange took past its deadline.
  case timeout(String)

  public var description: String {
    switch self {
    case .resolve(let e): return e.description
    case .io(let e): return e.description
    case .parse(let e): return "bad response: \(e)"
    case .timeout(let s): return s
    }
  }
}

/// One HTTP/1.1 request (a GET, or a POST with `Options.body`) on its own connection
/// (`Connection: close`), driven by the loop: connect,
/// write the request, parse the response as it arrives with `limits`, and call `completion`
/// exactly once. Two timers bound it: `idleMs` without a byte (an upstream that stalls
/// mid-body) and `deadlineMs` for the whole exchange. Nothing blocks the loop.
///
/// The object keeps itself alive until it completes; `cancel()` completes it with a timeout
/// error at once.
public final class HTTPExchange {
  public struct Options {
    public var limits = HTTPLimits()
    public var idleMs: UInt64 = 10_000
    public var deadlineMs: UInt64 = 60_000
    public var headers: [HTTPHeader] = []
    /// Sent as a POST with this body (and its Content-Length) when set.
    public var body: [UInt8]? = nil
    /// Called once the connection is up, before any answer: the peer is there (a long-poll's
    /// answer may be half a minute away).
    public var connected: (() -> Void)? = nil
    /// Where the host name is looked up (hosts file, resolv.conf).
    public var resolver = ResolverSettings()
    public init() {}
  }

  let loop: Loop
  let connection: TCPConnection
  let idle: Timer
  let deadline: Timer
  var parser: HTTPResponseParser
  var completion: ((Result<HTTPClientResponse, HTTPClientError>) -> Void)?
  var selfRef: HTTPExchange? = nil
  let options: Options
  var lookup: NameLookup? = nil

  /// Starts `GET path` (`POST path` with `options.body`) to `host:port` once `host` resolves (`NameLookup`, within the deadline).
  /// The completion never runs before this returns.
  @discardableResult
  public init(_ loop: Loop, host: String, port: UInt16, path: String, options: Options,
              completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
    self.loop = loop
    self.options = options
    self.completion = completion
    connection = TCPConnection(loop)
    idle = Timer(loop)
    deadline = Timer(loop)
    parser = HTTPResponseParser(limits: options.limits)
    selfRef = self
    deadline.start(after: options.deadlineMs) { [unowned(unsafe) self] in
      self.finish(.failure(.timeout("no complete response within \(self.options.deadlineMs) ms")))
    }
    lookup = NameLookup(loop, host: host, settings: options.resolver) { [unowned(unsafe) self] r in
      self.lookup = nil
      switch r {
      case .failure(let e): self.finish(.failure(.resolve(e)))
      case .success(let ip): self.connect(ip, host: host, port: port, path: path)
      }
    }
  }

  func connect(_ ip: String, host: String, port: UInt16, path: String) {
    armIdle()
    var request = "\(options.body == nil ? "GET" : "POST") \(path) HTTP/1.1\r\nHost: \(host)\(port == 80 ? "" : ":\(port)")\r\nUser-Agent: edgeagent\r\nConnection: close\r\n"
    for h in options.headers { request += "\(h.name): \(h.value)\r\n" }
    if let b = options.body { request += "Content-Type: application/octet-stream\r\nContent-Length: \(b.count)\r\n" }
    request += "\r\n"
    var bytes = Array(request.utf8)
    if let b = options.body { bytes.append(contentsOf: b) }
    do throws(LoopError) {
      try connection.connect(ipv4: ip, port: port) { [unowned(unsafe) self] err in
        if let err { self.finish(.failure(.io(err))); return }
        self.connection.setNoDelay()
        self.options.connected?()
        // Held strongly: a write still queued when the request finishes completes later
        // (ECANCELED), after finish() let go of this object.
        self.connection.write(bytes) { [self] err in
          if let err, self.completion != nil { self.finish(.failure(.io(err))) }
        }
        do throws(LoopError) {
          try self.connection.startReading({ [unowned(unsafe) self] data in self.received(data) },
                                           end: { [unowned(unsafe) self] err in self.ended(err) })
        } catch { self.finish(.failure(.io(error))) }
      }
    } catch {
      let e = error
      finish(.failure(.io(e)))
    }
  }

  /// Completes now with a timeout error (e.g. the puller is stopping).
  public func cancel() { finish(.failure(.timeout("cancelled"))) }

  func armIdle() {
    idle.start(after: options.idleMs) { [unowned(unsafe) self] in
      self.finish(.failure(.timeout("upstream stalled: no data for \(self.options.idleMs) ms (\(self.parser.body.count) body bytes received)")))
    }
  }

  func received(_ data: UnsafeRawBufferPointer) {
    guard completion != nil else { return }
    armIdle()
    do throws(HTTPParseError) {
      if try parser.feed(data), let head = parser.head {
        finish(.success(HTTPClientResponse(status: head.status, headers: head.headers, body: parser.body)))
      }
    } catch {
      finish(.failure(.parse(error)))
    }
  }

  func ended(_ err: LoopError?) {
    guard completion != nil else { return }
    if let err { finish(.failure(.io(err))); return }
    do throws(HTTPParseError) {
      try parser.finish()
      if let head = parser.head {
        finish(.success(HTTPClientResponse(status: head.status, headers: head.headers, body: parser.body)))
      }
    } catch {
      finish(.failure(.parse(error)))
    }
  }

  func finish(_ r: Result<HTTPClientResponse, HTTPClientError>) {
    guard let c = completion else { return }
    completion = nil
    let pending = lookup
    lookup = nil
    pending?.cancel()
    idle.stop()
    deadline.stop()
    idle.close()
    deadline.close()
    connection.close()
    // The body (or what a refused one had grown to) goes with this request or soon after.
    TransientBuffers.note(parser.body.capacity)
    c(r)
    selfRef = nil
  }
}
