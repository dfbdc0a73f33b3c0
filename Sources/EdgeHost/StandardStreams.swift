/// Writes to fd 1 / fd 2 directly: unbuffered, so nothing is lost if the process dies, and
/// never interleaved mid-line with a child's output. Best effort: a closed or full stream drops
/// the rest, because there is nowhere left to say so.
public func writeStdout(_ s: String) { writeFD(1, s) }
public func writeStderr(_ s: String) { writeFD(2, s) }

public func writeStdout(_ bytes: [UInt8]) {
  bytes.withUnsafeBytes { raw in writeAll(1, raw) }
}

private func writeFD(_ fd: CInt, _ s: String) {
  var copy = s
  copy.withUTF8 { buf in writeAll(fd, UnsafeRawBufferPointer(buf)) }
}

private func writeAll(_ fd: CInt, _ raw: UnsafeRawBufferPointer) {
  var done = 0
  while done < raw.count {
    let n = system_write(fd, raw.baseAddress! + done, raw.count - done)
    if n < 0 { if Errno.current == .interrupted { continue }; return }
    done += n
  }
}
