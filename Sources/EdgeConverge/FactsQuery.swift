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

/// `facts`' text: one `name: value` line per fact, lists joined by spaces (an interface per
/// line, with its addresses), then the classes: the JSON's members, so the two never disagree.
public func factsText(_ f: HostFacts, classes: [String]) -> String {
  func words(_ items: [JSONNode]) -> String {
    var s = ""
    for w in items { s += (s.isEmpty ? "" : " ") + (w.string ?? w.integer.map { String($0) } ?? "") }
    return s
  }
  var s = ""
  for m in f.json.members ?? [] {
    if m.key == "interfaces" {
      for i in m.value.array ?? [] {
        let get = { (k: String) in i.members?.first { $0.key == k }?.value }
        s += "interface " + (get("name")?.string ?? "") + ": " + words((get("ipv4")?.array ?? []) + (get("ipv6")?.array ?? []))
        s += (get("loopback")?.bool == true ? " (loopback)" : "") + "\n"
      }
      continue
    }
    let v: String
    switch m.value.value {
    case .array(let items): v = words(items)
    case .number(let n): v = n
    case .string(let t): v = t
    default: v = ""
    }
    s += m.key + ": " + escapedText(v) + "\n"
  }
  var list = ""
  for c in classes { list += (list.isEmpty ? "" : " ") + c }
  return s + "classes: " + list + "\n"
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
