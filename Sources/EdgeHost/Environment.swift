/// An environment variable, or nil. C: `getenv`
public func environmentValue(_ name: String) -> String? {
  guard let v = name.withCString({ system_getenv($0) }) else { return nil }
  return String(cString: v)
}
