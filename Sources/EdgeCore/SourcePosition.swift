/// A place in a source file: 1-based line and column (columns count bytes, as editors that
/// show byte offsets do; policies are ASCII in practice). `line == 0` means "no position".
public struct SourcePosition: Equatable, Sendable, CustomStringConvertible {
  public var line: Int
  public var column: Int

  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }

  public static let none = SourcePosition(line: 0, column: 0)

  public var description: String { "\(line):\(column)" }
}
