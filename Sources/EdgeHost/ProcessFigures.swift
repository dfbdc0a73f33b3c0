import CEdge
import EdgeCore

/// This process's resident memory and open descriptors, from /proc/self, for /metrics (read when
/// it is asked for, never on the convergence path). Nil when /proc is not mounted or unreadable.
public enum ProcessFigures {
  /// Resident set size in bytes: /proc/self/statm's second field (pages) times the page size.
  public static func residentBytes() -> Int? {
    guard let text = try? readWholeFile("/proc/self/statm", limit: 4096) else { return nil }
    let fields = text.split(separator: UInt8(ascii: " "))
    guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
    return pages * Int(sysconf(CInt(_SC_PAGESIZE)))
  }

  /// Open descriptors: the entries of /proc/self/fd, less the two this count opens (the
  /// directory and the duplicate its listing reads).
  public static func openDescriptors() -> Int? {
    do throws(HostError) {
      let d = try Directory.openRoot("/proc/self/fd")
      return try d.entries().count - 2
    } catch { return nil }
  }
}
