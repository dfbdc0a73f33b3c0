import Foundation
import XCTest
import EdgeTestSupport

/// A client that sends a request and resets the connection before the answer: the relay's
/// write then fails with EPIPE. That must be an error on one connection, not a SIGPIPE that
/// ends the agent (it did: exit 141, found while an updated relay's children reconnected).
final class BrokenPipeTests: XCTestCase {
  func testClientsThatResetBeforeTheAnswerDoNotKillTheRelay() throws {
    let python = try AgentRun.requirePython()
    let run = try AgentRun.make(self)
    let keys = run.base + "/k"
    XCTAssertEqual(try Edgeagent.run(["keygen", "--out", keys]).status, 0)
    // A blob of 1 MiB: an answer far larger than a socket buffer.
    try Data(repeating: UInt8(ascii: "x"), count: 1 << 20).write(to: URL(fileURLWithPath: run.base + "/big"))
    let src = try run.file("source.json", run.policyText("pipes", [
      "{\"id\": \"big\", \"type\": \"file\", \"path\": \"/big\", \"source_file\": \"big\"}"]))
    XCTAssertEqual(try Edgeagent.run(["publish", src, run.base + "/origin", "--key", keys + ".key"]).status, 0)
    let config = try run.file("config.json", """
      {"upstreams": ["file://\(run.base)/origin"], "trusted_keys": ["\(keys).pub"], "relay": "127.0.0.1:0"}
      """)
    try run.writePolicy("local", [])
    try run.start(["--config", config])
    XCTAssertTrue(run.waitForLog("msg=\"bundle accepted\"", timeout: eventually), run.log)
    guard let line = run.logLines.first(where: { $0.contains("msg=\"relay listening\"") }),
          let port = line.components(separatedBy: "address=127.0.0.1:").last?.split(separator: " ").first else {
      return XCTFail("no relay port in the log:\n\(run.log)")
    }
    let blob = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: run.base + "/origin/blobs").first)
    let script = try run.file("resets.py", """
      import socket, struct, sys, urllib.request
      port = int(sys.argv[1])
      for i in range(300):
          s = socket.create_connection(("127.0.0.1", port))
          path = "/bundle.json" if i % 2 else "/blobs/\(blob)"
          s.sendall(("GET %s HTTP/1.1\\r\\nHost: relay\\r\\n\\r\\n" % path).encode())
          s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
          s.close()
      print(urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10).status)
      """)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [script, String(port)]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    p.waitUntilExit()
    let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertEqual(said.trimmingCharacters(in: .whitespacesAndNewlines), "200", run.log)
    XCTAssertTrue(run.isRunning, "the relay died:\n\(run.log)")
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 15)?.status, 0, run.log)
  }
}
