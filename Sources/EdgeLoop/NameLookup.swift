import EdgeCore
import EdgeHost

/// Where name lookups read their files, and the DNS servers' port (53; tests use another).
public struct ResolverSettings: Sendable {
  public var hostsPath = "/etc/hosts"
  public var resolvConfPath = "/etc/resolv.conf"
  public var port: UInt16 = 53
  public init() {}
}

/// Why a host name gave no IPv4 address.
public struct ResolveError: Error, CustomStringConvertible {
  public var host: String
  public var reason: String
  public var description: String { "unable to resolve " + host + ": " + reason }
}

/// Turns a host name into an IPv4 address without NSS (static glibc has none that works), on
/// the loop: an IPv4 literal as is, "localhost" as 127.0.0.1, the first IPv4 entry in the
/// hosts file, else DNS. DNS follows resolv.conf as glibc's stub does: the search list and
/// ndots, each server in turn for `timeout` ms, `attempts` rounds. A query goes out from one
/// UDP socket on a random port with a random ID; only an answer from the server asked, with
/// that ID and question, counts; a truncated one is asked again over TCP. NXDOMAIN or no A
/// record moves to the next search name; a server failure, refusal or silence to the next
/// server. The hosts file (up to 1 MiB) and resolv.conf (64 KiB) are read at each lookup, so an
/// edit (DHCP) applies at once; they are small local files, the one synchronous step.
///
/// `completion` runs exactly once, never before `init` returns; `cancel()` ends the lookup at
/// once with an error. The object keeps itself alive until then.
public final class NameLookup {
  let loop: Loop
  let host: String
  let settings: ResolverSettings
  var completion: ((Result<String, ResolveError>) -> Void)?
  var selfRef: NameLookup? = nil
  let timer: Timer
  var socket: UDPSocket? = nil
  var stream: TCPConnection? = nil
  var conf = ResolvConf()
  var names: [String] = []
  /// The query in flight: which name, server and round, and its ID and bytes.
  var nameIndex = 0, serverIndex = 0, attempt = 0
  var id: UInt16 = 0
  var query: [UInt8] = []
  /// Why the last name or server gave no address, for the error.
  var lastReason = ""

  @discardableResult
  public init(_ loop: Loop, host: String, settings: ResolverSettings = ResolverSettings(),
              completion: @escaping (Result<String, ResolveError>) -> Void) {
    self.loop = loop
    self.host = host
    self.settings = settings
    self.completion = completion
    timer = Timer(loop)
    selfRef = self
    timer.start(after: 0) { [unowned(unsafe) self] in self.begin() }
  }

  public func cancel() { fail("cancelled") }

  func begin() {
    if let ip = resolveWithoutDNS(host, hostsPath: settings.hostsPath) { finish(.success(ip)); return }
    let text = (try? readWholeFile(settings.resolvConfPath, limit: 1 << 16)) ?? []
    conf = ResolvConf.parse(text)
    names = conf.candidates(host)
    let s = UDPSocket(loop)
    socket = s
    do throws(LoopError) {
      try s.bind()
      try s.startReceiving { [unowned(unsafe) self] data, from, partial in self.received(data, from, partial) }
    } catch { fail(error.description); return }
    send()
  }

  var server: String { conf.nameservers[serverIndex] }

  func send() {
    guard completion != nil else { return }
    id = UInt16(truncatingIfNeeded: randomBelow(1 << 16))
    do throws(DNSError) { query = try DNSMessage.query(id: id, name: names[nameIndex]) } catch {
      lastReason = error.description
      nextName()
      return
    }
    do throws(LoopError) { try socket?.send(query, toIPv4: server, port: settings.port) } catch {
      lastReason = error.description
      nextServer()
      return
    }
    timer.start(after: conf.timeoutMs) { [unowned(unsafe) self] in
      self.lastReason = "no answer from " + commaList(self.conf.nameservers) + " (\(self.conf.attempts) attempts, \(self.conf.timeoutMs) ms each)"
      self.nextServer()
    }
  }

  func received(_ data: UnsafeRawBufferPointer, _ from: UDPSource, _ partial: Bool) {
    guard completion != nil, stream == nil, from.port == settings.port, from.address == ipv4Value(server) else { return }
    // Shorter than a header: noise, not an answer anyone could be held to (glibc waits on too).
    guard data.count >= 12 else { return }
    guard !partial else { failed("a datagram too large"); return }
    do throws(DNSError) {
      let a = try DNSMessage.parseResponse(Array(data), id: id, name: names[nameIndex])
      if a.truncated && a.rcode == 0 && a.addresses.isEmpty { askOverTCP(); return }
      answered(a)
    } catch {
      if case .mismatch = error { return }   // not ours (late or forged): keep waiting
      failed(error.description)
    }
  }

  /// The server asked gave no usable answer: the next one.
  func failed(_ reason: String) {
    endQuery()
    lastReason = reason + " from " + server
    nextServer()
  }

  func answered(_ a: DNSAnswer) {
    endQuery()
    if let first = a.addresses.first { finish(.success(first)); return }
    switch a.rcode {
    case 0: lastReason = "no A record (" + server + ")"; nextName()
    case 3: lastReason = "no such name (NXDOMAIN from " + server + ")"; nextName()
    default: lastReason = rcodeName(a.rcode) + " from " + server; nextServer()
    }
  }

  func endQuery() {
    timer.stop()
    stream?.close()
    stream = nil
  }

  func nextServer() {
    serverIndex += 1
    if serverIndex == conf.nameservers.count {
      serverIndex = 0
      attempt += 1
      // Every server failed or stayed silent: the search list would only fail the same way.
      if attempt == conf.attempts { fail(lastReason); return }
    }
    send()
  }

  func nextName() {
    nameIndex += 1
    serverIndex = 0
    attempt = 0
    if nameIndex == names.count { fail(names.count > 1 ? lastReason + "; tried " + commaList(names) : lastReason); return }
    send()
  }

  /// The same query over TCP (RFC 1035 4.2.2: a 2-byte length before each message), within
  /// a fresh timeout.
  func askOverTCP() {
    let c = TCPConnection(loop)
    stream = c
    var framed: [UInt8] = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)]
    framed += query
    var got: [UInt8] = []
    timer.start(after: conf.timeoutMs) { [unowned(unsafe) self] in
      self.failed("no answer over TCP")
    }
    do throws(LoopError) {
      try c.connect(ipv4: server, port: settings.port) { [unowned(unsafe) self] err in
        guard self.stream === c else { return }
        if let err { self.failed(err.description); return }
        c.write(framed)
        do throws(LoopError) {
          try c.startReading({ [unowned(unsafe) self] data in
            guard self.stream === c else { return }
            got += data
            guard got.count >= 2 else { return }
            let length = Int(got[0]) << 8 | Int(got[1])
            guard got.count >= 2 + length else { return }
            do throws(DNSError) {
              self.answered(try DNSMessage.parseResponse(Array(got[2..<(2 + length)]), id: self.id, name: self.names[self.nameIndex]))
            } catch { self.failed(error.description) }
          }, end: { [unowned(unsafe) self] _ in
            guard self.stream === c else { return }
            self.failed("TCP connection closed early")
          })
        } catch { self.failed(error.description) }
      }
    } catch { failed(error.description) }
  }

  func fail(_ reason: String) { finish(.failure(ResolveError(host: host, reason: reason))) }

  func finish(_ r: Result<String, ResolveError>) {
    guard let c = completion else { return }
    completion = nil
    timer.stop()
    timer.close()
    socket?.close()
    stream?.close()
    stream = nil
    c(r)
    selfRef = nil
  }
}

/// An IPv4 literal as is, "localhost" as 127.0.0.1, else the first IPv4 entry for the name in
/// the hosts file; nil when DNS has to answer.
public func resolveWithoutDNS(_ host: String, hostsPath: String = "/etc/hosts") -> String? {
  if isIPv4Literal(host) { return host }
  let name = asciiLowercased(host)
  if name == "localhost" { return "127.0.0.1" }
  guard let bytes = try? readWholeFile(hostsPath, limit: 1 << 20) else { return nil }
  return lookupHosts(bytes, name)
}

func rcodeName(_ rcode: UInt8) -> String {
  rcode == 2 ? "server failure" : rcode == 5 ? "refused" : "response code \(rcode)"
}

func commaList(_ items: [String]) -> String {
  var out = ""
  for i in items { out += out.isEmpty ? i : ", " + i }
  return out
}
