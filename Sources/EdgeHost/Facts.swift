import CEdge
import EdgeCore

/// Reads the facts of the host whose managed root is `root`.
public func readFacts(root: String, labels: [String], hostID: String = "") -> HostFacts {
  var f = HostFacts()
  f.labels = labels
  f.hostID = hostID
  f.hostname = currentHostname()
  var u = utsname()
  if uname(&u) == 0 {
    f.arch = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    f.kernel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }
  readOSRelease(root: root, into: &f)
  let n = sysconf(CInt(_SC_NPROCESSORS_ONLN))
  f.cpus = n > 0 ? Int(n) : 1
  f.memoryMB = Int(edge_total_memory() >> 20)
  f.interfaces = readInterfaces()
  return f
}

/// os-release(5): /etc/os-release, else /usr/lib/os-release, beneath the root. A root without
/// either (a bare sandbox, a minimal image) has no distribution facts: they read "".
func readOSRelease(root: String, into f: inout HostFacts) {
  guard let dir = try? Directory.openRoot(root) else { return }
  // Unreadable reads as missing: a root is not refused for its os-release.
  guard let bytes = (try? dir.readBeneath("etc/os-release", limit: 64 << 10, followLast: true))
          ?? (try? dir.readBeneath("usr/lib/os-release", limit: 64 << 10, followLast: true)) else { return }
  f.parseOSRelease(bytes)
}

/// Interfaces and their addresses (getifaddrs), in the kernel's order.
func readInterfaces() -> [NetworkInterface] {
  var list: UnsafeMutablePointer<ifaddrs>? = nil
  guard getifaddrs(&list) == 0 else { return [] }
  defer { freeifaddrs(list) }
  var out: [NetworkInterface] = []
  var p = list
  while let a = p {
    p = a.pointee.ifa_next
    guard let cname = a.pointee.ifa_name else { continue }
    let name = String(cString: cname)
    var k = out.firstIndex { $0.name == name } ?? -1
    if k < 0 {
      var i = NetworkInterface(name: name)
      i.loopback = a.pointee.ifa_flags & UInt32(IFF_LOOPBACK) != 0
      out.append(i)
      k = out.count - 1
    }
    guard let sa = a.pointee.ifa_addr else { continue }
    let family = CInt(sa.pointee.sa_family)
    if family == AF_INET {
      // sin_family (2), sin_port (2), then the address.
      out[k].ipv4.append(ipv4Text(UnsafeRawBufferPointer(start: UnsafeRawPointer(sa) + 4, count: 4)))
    } else if family == AF_INET6 {
      // sin6_family (2), sin6_port (2), sin6_flowinfo (4), then 16 bytes.
      out[k].ipv6.append(ipv6Text(UnsafeRawBufferPointer(start: UnsafeRawPointer(sa) + 8, count: 16)))
    }
  }
  return out
}

