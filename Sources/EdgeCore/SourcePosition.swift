/// A place in a source file: 1-based line and column (columns count bytes, as editors that
/// show byte offsets do; policies are ASCII in practice). `line == 0` means "no position".
public struct SourcePosition: Equatable, Sendable, CustomStringConvertible {
  // 32 bits each (no input read is near 2 GiB): every promise and parse node carries one, and
  // two Ints were 8 bytes more a promise.
  private var line32: Int32
  private var column32: Int32

  public var line: Int {
    get { Int(line32) }
    set { line32 = Int32(truncatingIfNeeded: newValue) }
  }

  public var column: Int {
    get { Int(column32) }
    set { column32 = Int32(truncatingIfNeeded: newValue) }
  }

  public init(line: Int, column: Int) {
    line32 = Int32(truncatingIfNeeded: line)
    column32 = Int32(truncatingIfNeeded: column)
  }

  public static let none = SourcePosition(line: 0, column: 0)

  public var description: String { "\(line):\(column)" }
}
