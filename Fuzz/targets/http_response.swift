// requires: HTTPResponseParser.swift HTTPMessage.swift
// The pull client's response parser (issue 5) on arbitrary bytes, fed in pieces whose sizes come
// from the input itself: it must finish, refuse, or wait for more, never trap, and never hold a
// body past its limit. The first byte picks the split size and HEAD or GET.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPResponse(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size > 0 else { return 0 }
  let step = Int(data[0] & 0x3F) + 1
  let limits = HTTPLimits(maxHeaderBytes: 1024, maxHeaders: 16, maxBodyBytes: 4096)
  var p = HTTPResponseParser(limits: limits, headRequest: data[0] & 0x80 != 0)
  var i = 1
  while i < size {
    let n = min(step, size - i)
    do {
      if try p.feed(UnsafeRawBufferPointer(start: data + i, count: n)) { break }
    } catch { return 0 }
    i += n
  }
  if p.body.count > limits.maxBodyBytes { fatalError("body past its limit: \(p.body.count)") }
  if !p.isComplete { _ = try? p.finish() }
  return 0
}
