import EdgeCore
import EdgeHost
import EdgeStore

/// `edgeagent facts`: the facts and classes this host has for a root, with the host id read
/// from its state (read-only; none yet is "").
public func hostFacts(root: String, stateDir: String?, labels: [String]) throws(AgentError) -> (HostFacts, [String]) {
  let r = try normalisedRoot(root)
  let dir = stateDir ?? StateLayout.directory(forRoot: r)
  var id = ""
  if stateExists(dir) {
    do throws(StoreError) {
      let env = try Environment(path: dir, readOnly: true)
      id = try stateHostID(env)
    } catch {
      if case .noState = error {} else { throw .store(error) }
    }
  }
  let facts = readFacts(root: r, labels: labels, hostID: id)
  return (facts, hostClasses(labels: labels, root: r).sorted())
}

/// `facts`' text: one `name: value` line per fact, lists joined by spaces, then the classes.
public func factsText(_ f: HostFacts, classes: [String]) -> String {
  func line(_ k: String, _ v: String) -> String { k + ": " + escapedText(v) + "\n" }
  func words(_ l: [String]) -> String {
    var s = ""
    for w in l { s += (s.isEmpty ? "" : " ") + w }
    return s
  }
  var s = line("hostname", f.hostname) + line("host_id", f.hostID) + line("arch", f.arch) + line("kernel", f.kernel)
  s += line("os", "linux") + line("os_id", f.osID) + line("os_version_id", f.osVersionID) + line("os_name", f.osName)
  s += line("os_like", words(f.osLike)) + line("cpus", String(f.cpus)) + line("memory_mb", String(f.memoryMB))
  s += line("ipv4", words(f.ipv4)) + line("ipv6", words(f.ipv6))
  for i in f.interfaces {
    s += line("interface " + i.name, words(i.ipv4 + i.ipv6) + (i.loopback ? " (loopback)" : ""))
  }
  s += line("labels", words(f.labels)) + line("classes", words(classes))
  return s
}

/// `facts --json`: the object templates see as `facts`, and `classes`.
public func factsJSON(_ f: HostFacts, classes: [String]) -> String {
  var w = JSONWriter()
  w.beginObject()
  w.key("facts")
  w.node(f.json)
  w.key("classes")
  w.beginArray()
  for c in classes { w.string(c) }
  w.endArray()
  w.endObject()
  return w.text + "\n"
}
