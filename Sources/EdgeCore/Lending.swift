/// `Array.withUnsafeBytes` and `String.withUTF8` are `rethrows`, which widens a typed error to
/// `any Error` (an error in Embedded Swift). These lend the same bytes and keep the error typed;
/// the body's error crosses the untyped closure inside a Result.
@inline(__always)
public func withBytes<R, E: Error>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
  let r: Result<R, E> = a.withUnsafeBytes { raw in
    do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
  }
  return try r.get()
}

@inline(__always)
public func withUTF8<R, E: Error>(_ s: String, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
  var copy = s
  let r: Result<R, E> = copy.withUTF8 { buf in
    do throws(E) { return .success(try body(UnsafeRawBufferPointer(buf))) } catch { return .failure(error) }
  }
  return try r.get()
}

@inline(__always)
public func withMutableBytes<R, E: Error>(_ a: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
  let r: Result<R, E> = a.withUnsafeMutableBytes { raw in
    do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
  }
  return try r.get()
}
