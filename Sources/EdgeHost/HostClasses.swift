import CEdge
import EdgeCore

/// The classes a host defines for `if` expressions, as CFEngine's hard classes: `any`, the OS
/// (`linux`), the architecture (`x86_64`, `aarch64`, `armv7l`, and `arm`/`arm64` aliases),
/// the canonical hostname and `host_<hostname>`, plus the operator's labels.
public func hostClasses(labels: [String], hostname: String? = nil) -> Set<String> {
  var classes: Set<String> = ["any", "linux"]
  var u = utsname()
  if uname(&u) == 0 {
    let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    classes.insert(canonicalClassName(machine))
    if machine == "aarch64" { classes.insert("arm64") }
    if machine.hasPrefix("armv") { classes.insert("arm") }
    if machine == "x86_64" { classes.insert("amd64") }
  }
  let name = hostname ?? currentHostname()
  if !name.isEmpty {
    classes.insert(canonicalClassName(name))
    classes.insert("host_" + canonicalClassName(name))
  }
  for l in labels { classes.insert(canonicalClassName(l)) }
  return classes
}

/// The kernel's hostname (uname nodename).
public func currentHostname() -> String {
  var u = utsname()
  guard uname(&u) == 0 else { return "" }
  return withUnsafeBytes(of: &u.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
