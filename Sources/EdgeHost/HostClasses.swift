import CEdge
import EdgeCore

/// The classes a host defines for `if` expressions, as CFEngine's hard classes: `any`, the OS
/// (`linux`), the architecture (`x86_64`, `aarch64`, `armv7l`, and `arm`/`arm64` aliases),
/// the canonical hostname and `host_<hostname>`, the distribution of the managed root (with
/// `root`: `debian`, `debian_12`, from its os-release; HostFacts.osClasses), plus the operator's labels.
public func hostClasses(labels: [String], hostname: String? = nil, root: String? = nil) -> Set<String> {
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
  if let root {
    var f = HostFacts()
    readOSRelease(root: root, into: &f)
    for c in f.osClasses { classes.insert(c) }
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
