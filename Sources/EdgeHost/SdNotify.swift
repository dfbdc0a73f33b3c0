import CEdge

/// systemd's readiness protocol: a datagram to $NOTIFY_SOCKET ("@" for the abstract namespace).
/// Returns false when there is no socket or the send failed; under systemd that only means the
/// unit's readiness is not signalled. Never waits: a reader that stopped reading (a full socket
/// buffer) costs the message, not the loop (MSG_DONTWAIT).
@discardableResult
public func sdNotify(_ message: String) -> Bool {
  guard let path = environmentValue("NOTIFY_SOCKET"), !path.isEmpty, path.utf8.count < 108 else { return false }
  let fd = system_socket(AF_UNIX, Int32(EDGE_SOCK_DGRAM) | Int32(EDGE_SOCK_CLOEXEC), 0)
  guard fd >= 0 else { return false }
  defer { _ = system_close(fd) }
  var addr = sockaddr_un()
  addr.sun_family = sa_family_t(AF_UNIX)
  var bytes = Array(path.utf8)
  if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
  withUnsafeMutableBytes(of: &addr.sun_path) { raw in
    for (i, b) in bytes.enumerated() { raw[i] = b }
  }
  let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
  let sent = message.withCString { m in
    withUnsafePointer(to: &addr) { a in
      a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
        system_sendto(fd, m, strlen(m), Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, length)
      }
    }
  }
  return sent >= 0
}

/// Whether $NOTIFY_SOCKET names a socket: a message need not be built otherwise.
public func sdNotifyListening() -> Bool {
  guard let path = environmentValue("NOTIFY_SOCKET") else { return false }
  return !path.isEmpty
}

/// The watchdog interval systemd asks for ($WATCHDOG_USEC), in milliseconds; nil when unset or
/// meant for another process ($WATCHDOG_PID).
public func watchdogIntervalMs() -> UInt64? {
  if let p = environmentValue("WATCHDOG_PID"), let pid = Int32(p), pid != processID() { return nil }
  guard let u = environmentValue("WATCHDOG_USEC"), let usec = UInt64(u), usec > 0 else { return nil }
  return usec / 1000
}
