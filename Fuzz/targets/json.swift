// requires: JSONReader.swift
// The strict JSON reader on arbitrary bytes: it must return a tree or a JSONError, never trap,
// hang or overflow the stack. Oracle: a document it accepts parses again to the same shape when
// re-serialised by JSONWriter.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  guard let node = try? JSONReader.parse(bytes) else { return 0 }
  var w = JSONWriter()
  write(node, &w)
  guard let again = try? JSONReader.parse(w.bytes) else { fatalError("re-serialised document rejected") }
  guard same(node, again) else { fatalError("re-serialised document differs") }
  return 0
}

func write(_ n: JSONNode, _ w: inout JSONWriter) {
  switch n.value {
  case .null: w.null()
  case .bool(let b): w.bool(b)
  case .number(let s): w.string("#" + s)  // JSONWriter has no raw number; compare as a tagged string
  case .string(let s): w.string(s)
  case .array(let items): w.beginArray(); for i in items { write(i, &w) }; w.endArray()
  case .object(let members):
    w.beginObject()
    for m in members { w.key(m.key); write(m.value, &w) }
    w.endObject()
  }
}

func same(_ a: JSONNode, _ b: JSONNode) -> Bool {
  switch (a.value, b.value) {
  case (.null, .null): return true
  case (.bool(let x), .bool(let y)): return x == y
  case (.number(let x), .string(let y)): return "#" + x == y
  case (.string(let x), .string(let y)): return x == y
  case (.array(let x), .array(let y)):
    guard x.count == y.count else { return false }
    for i in x.indices where !same(x[i], y[i]) { return false }
    return true
  case (.object(let x), .object(let y)):
    guard x.count == y.count else { return false }
    for i in x.indices where x[i].key != y[i].key || !same(x[i].value, y[i].value) { return false }
    return true
  default: return false
  }
}
