/// A parsed JSON document that remembers where each value came from, so that validation can
/// name the line and column of a bad value, not just its key.
///
/// Numbers keep their source text: policies need integers (modes are strings, counts are
/// integers), and keeping the text avoids a float parser that Embedded Swift lacks.
public enum JSONValue: Sendable {
  case null
  case bool(Bool)
  case number(String)
  case string(String)
  case array([JSONNode])
  case object([JSONMember])
}

/// A value and the position of its first character.
public struct JSONNode: Sendable {
  public var value: JSONValue
  public var position: SourcePosition

  public init(_ value: JSONValue, at position: SourcePosition) {
    self.value = value
    self.position = position
  }

  /// The JSON type's name, for error messages ("expected string, found number").
  public var typeName: String {
    switch value {
    case .null: return "null"
    case .bool: return "boolean"
    case .number: return "number"
    case .string: return "string"
    case .array: return "array"
    case .object: return "object"
    }
  }

  public var string: String? {
    if case .string(let s) = value { return s }
    return nil
  }

  public var bool: Bool? {
    if case .bool(let b) = value { return b }
    return nil
  }

  /// The value as an integer, if it is a number written without fraction or exponent that fits.
  public var integer: Int64? {
    if case .number(let text) = value { return Int64(text) }
    return nil
  }

  public var array: [JSONNode]? {
    if case .array(let a) = value { return a }
    return nil
  }

  public var members: [JSONMember]? {
    if case .object(let m) = value { return m }
    return nil
  }
}

/// One `"key": value` pair of an object; members keep their source order.
public struct JSONMember: Sendable {
  public var key: String
  public var keyPosition: SourcePosition
  public var value: JSONNode

  public init(key: String, keyPosition: SourcePosition, value: JSONNode) {
    self.key = key
    self.keyPosition = keyPosition
    self.value = value
  }
}
