// requires: HTTPRequestParser.swift HTTPMessage.swift
// The relay's request parser (issue 5) on arbitrary bytes in pieces: a request, a refusal or
// "more", never a trap; an accepted target never holds a control byte or space.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size > 0 else { return 0 }
  let step = Int(data[0]) + 1
  var p = HTTPRequestParser()
  var i = 1
  while i < size {
    let n = min(step, size - i)
    let r: HTTPRequest?
    do { r = try p.feed(UnsafeRawBufferPointer(start: data + i, count: n)) } catch { return 0 }
    if let r {
      for c in r.path.utf8 where c <= 0x20 || c >= 0x7F { fatalError("accepted a target with byte \(c)") }
      _ = r.parameter("wait")
      break
    }
    i += n
  }
  return 0
}
