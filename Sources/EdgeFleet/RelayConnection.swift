import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// The answer being shared (see `Relay.inFlight`); a box the write completions hold, so they
/// never reach back into a relay that may be gone.
final class InFlightAnswer {
  var head = ""
  var bytes: SharedBytes? = nil

  /// Writes `sb` on `c`; the last write of it to complete lets it go.
  func write(_ sb: SharedBytes, on c: TCPConnection) {
    c.write(sb) { [self] _ in
      if sb.pending == 0 && self.bytes === sb { self.bytes = nil }
    }
  }
}

/// One client of the relay: reads the request head (bounded, timed), answers, closes.
final class RelayConnection {
  unowned(unsafe) let relay: Relay
  let c: TCPConnection
  /// The client's address ("" when unknown: all such share one bound).
  let peer: String
  /// Order among held polls (see `Relay.evictOneHeldPoll`).
  var heldAt: UInt64 = 0
  let timer: Timer
  var parser: HTTPRequestParser
  var request: HTTPRequest? = nil
  /// The head was malformed and answered with an error status.
  var refused = false
  var closed = false

  init(_ relay: Relay, _ c: TCPConnection, peer: String) {
    self.relay = relay
    self.c = c
    self.peer = peer
    timer = Timer(relay.loop)
    // A body only where reports are taken, and then at most one batch.
    parser = HTTPRequestParser(limits: HTTPLimits(maxHeaderBytes: 8 << 10, maxHeaders: 32,
                                                  maxBodyBytes: relay.reports == nil ? 0 : ReportBatch.maxBytes))
  }

  func begin() {
    timer.start(after: 10_000) { [unowned(unsafe) self] in
      self.relay.stats.badRequests += 1
      self.close()
    }
    do throws(LoopError) {
      try c.startReading({ [unowned(unsafe) self] data in self.received(data) },
                         end: { [unowned(unsafe) self] _ in if self.request == nil || self.isHeld { self.close() } })
    } catch { close() }
  }

  var isHeld: Bool { relay.waiters[ObjectIdentifier(self)] != nil }

  func received(_ data: UnsafeRawBufferPointer) {
    guard request == nil, !refused, !closed else { return }
    do throws(HTTPParseError) {
      guard let r = try parser.feed(data) else { return }
      request = r
      c.stopReading()
      dispatch(r)
    } catch {
      // One answer, then nothing more is read: the rest of a 64 KiB header used to be parsed
      // again, read by read, each time writing another 431 with its own close.
      refused = true
      c.stopReading()
      relay.stats.badRequests += 1
      let status = error.kind == .headersTooLarge || error.kind == .tooManyHeaders ? 431 : (error.kind == .bodyTooLarge ? 413 : 400)
      // Write completions run even after close() (as ECANCELED), so they hold self strongly:
      // with `unowned(unsafe)` the second of those 431s closed a freed connection.
      c.write(Array("HTTP/1.1 \(status) \(reasonPhrase(status))\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8)) { _ in self.close() }
    }
  }

  func dispatch(_ r: HTTPRequest) {
    // Long-poll: hold while the child already has what we have.
    let wait = r.parameter("wait").flatMap { Int($0) } ?? 0
    if r.path == "/bundle.json", wait > 0,
       let have = r.parameter("have").flatMap({ UInt64($0) }), let held = relayHeldSerial(), have >= held,
       !holdsNewerTeam(r.parameter("teams")) {
      guard relay.hold(self) else {
        // Its address holds its share: answered at once and without the long-poll header, so
        // the child waits its interval before asking again.
        answer(r, longPoll: false)
        return
      }
      // Reads resume so a client that gives up is noticed (end of stream closes us).
      try? c.startReading({ _ in }, end: { [unowned(unsafe) self] _ in self.close() })
      timer.start(after: UInt64(min(wait, 60)) * 1000) { [unowned(unsafe) self] in
        self.relay.unhold(self)
        self.answer(r, longPoll: true)
      }
      return
    }
    answer(r, longPoll: r.parameter("wait") != nil)
  }

  /// The relay's serial for a long-poll's comparison (0: none); nil when the state cannot be
  /// read, and the request is then answered at once, with that error.
  func relayHeldSerial() -> UInt64? {
    do { return try relay.held()?.serial ?? 0 } catch { return nil }
  }

  /// Whether this relay holds a bundle of a team newer than the child says it has
  /// (`teams=NAME:SERIAL,...`): the poll is then answered at once.
  func holdsNewerTeam(_ param: String?) -> Bool {
    guard let param, !param.isEmpty else { return false }
    let held = relay.heldTeamSerials()
    if held.isEmpty { return false }
    for item in param.utf8.split(separator: UInt8(ascii: ",")).prefix(256) {
      let parts = item.split(separator: UInt8(ascii: ":"))
      guard parts.count == 2, let serial = UInt64(String(decoding: parts[1], as: UTF8.self)) else { continue }
      let name = String(decoding: parts[0], as: UTF8.self)
      for h in held where h.team == name && h.serial > serial { return true }
    }
    return false
  }

  func answerHeld() {
    guard let r = request, !closed else { return }
    answer(r, longPoll: true)
  }

  func answer(_ r: HTTPRequest, longPoll: Bool) {
    guard !closed else { return }
    c.stopReading()
    // The whole answer must drain within 120 s, or the client is too slow to keep.
    timer.start(after: 120_000) { [unowned(unsafe) self] in
      self.relay.stats.badRequests += 1
      self.close()
    }
    relay.respond(r, on: c, longPoll: longPoll)
    // Close once everything queued is written: an empty write completes after the others.
    c.write([UInt8]()) { _ in self.close() }  // strong: see `received`
  }

  func close() {
    if closed { return }
    closed = true
    timer.stop()
    timer.close()
    c.close()
    relay.closed(self)
  }
}

func reasonPhrase(_ status: Int) -> String {
  switch status {
  case 200: return "OK"
  case 304: return "Not Modified"
  case 400: return "Bad Request"
  case 404: return "Not Found"
  case 405: return "Method Not Allowed"
  case 413: return "Content Too Large"
  case 431: return "Request Header Fields Too Large"
  case 500: return "Internal Server Error"
  case 503: return "Service Unavailable"
  default: return "Status"
  }
}
