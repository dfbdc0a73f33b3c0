import CEdge
import EdgeCore

/// This process's resident memory and open descriptors, from /proc/self, for /metrics (read when
/// it is asked for, never on the convergence path). Nil when /proc is not mounted or unreadable.
public enum ProcessFigures {
  /// Resident set size in bytes: /proc/self/statm's second field (pages) times the page size.
  public static func residentBytes() -> Int? {
    guard let text = try? readWholeFile("/proc/self/statm", limit: 4096) else { return nil }
    var field = 0, pages = 0
    for c in text {
      if c == UInt8(ascii: " ") { field += 1; if field > 1 { break } } else if field == 1 {
        guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
        pages = pages * 10 + Int(c - UInt8(ascii: "0"))
      }
    }
    return field > 0 ? pages * Int(sysconf(CInt(_SC_PAGESIZE))) : nil
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
