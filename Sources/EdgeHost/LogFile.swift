import CEdge
import EdgeCore

/// A size-capped log file with one rotation: past `limit` bytes, `name` becomes `name.1`
/// (replacing the previous one) and writing starts afresh. Bounded at twice the limit on disk.
public final class LogFile {
  public let path: String
  let limit: Int
  var fd: CInt = -1
  var size = 0

  public init(path: String, limit: Int = 256 << 10) {
    self.path = path
    self.limit = limit
  }

  deinit { if fd >= 0 { _ = system_close(fd) } }

  /// Closes the file now (before its disk is unmounted); a later `append` opens it again.
  public func close() {
    if fd >= 0 { _ = system_close(fd) }
    fd = -1
  }

  public func append(_ bytes: UnsafeRawBufferPointer) {
    if fd < 0 { reopen() }
    if fd < 0 { return }
    if size + bytes.count > limit {
      _ = rename(path, path + ".1")
      _ = system_close(fd)
      fd = -1
      reopen()
      if fd < 0 { return }
    }
    var done = 0
    while done < bytes.count {
      let n = system_write(fd, bytes.baseAddress! + done, bytes.count - done)
      if n < 0 { if Errno.current == .interrupted { continue }; return }
      done += n
    }
    size += bytes.count
  }

  func reopen() {
    fd = system_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0o640)
    var st = stat()
    size = fd >= 0 && system_fstat(fd, &st) == 0 ? Int(st.st_size) : 0
  }

  /// The last `lines` lines of the log (and of the rotated one, when the current is short).
  public static func tail(_ path: String, lines: Int) -> [String] {
    var text = (try? readWholeFile(path, limit: 4 << 20)) ?? []
    var all = text.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    if all.count < lines {
      text = (try? readWholeFile(path + ".1", limit: 4 << 20)) ?? []
      all = text.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) } + all
    }
    return Array(all.suffix(lines))
  }
}
