// requires: PromiseRecord.swift StatRecord.swift EventRecord.swift ServiceRecord.swift
// The LMDB record decoders on arbitrary bytes (a corrupt or foreign state must give a
// RecordError or nil, never a trap or an out-of-bounds read). The first byte picks the record.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size > 0 else { return 0 }
  let raw = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  switch data[0] % 5 {
  case 0: _ = try? PromiseRecord.decode(raw)
  case 1: _ = try? ActualRecord.decode(raw)
  case 2: _ = StatRecord.decode(raw)
  case 3: _ = try? EventRecord.decode(raw)
  default: _ = try? ServiceRecord.decode(raw)
  }
  return 0
}
