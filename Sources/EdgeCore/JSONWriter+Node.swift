extension JSONWriter {
  /// Writes a parsed value back as compact JSON. Numbers keep their source text, so a value
  /// round-trips exactly; member order is kept.
  public mutating func node(_ n: JSONNode) {
    switch n.value {
    case .null: null()
    case .bool(let b): bool(b)
    case .number(let text): number(text)
    case .string(let s): string(s)
    case .array(let items):
      beginArray()
      for i in items { node(i) }
      endArray()
    case .object(let members):
      beginObject()
      for m in members {
        key(m.key)
        node(m.value)
      }
      endObject()
    }
  }
}
