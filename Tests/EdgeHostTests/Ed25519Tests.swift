import CEdge
import EdgeCore
import EdgeHost
import XCTest

/// `Ed25519.sign` and the key derivation are built from libsodium's primitives (to leave out the
/// base point's 30 KB table): they must give libsodium's own `crypto_sign` results, byte for
/// byte, and RFC 8032's test vectors.
final class Ed25519Tests: XCTestCase {
  override func setUp() { XCTAssertTrue(cryptoInit()) }

  private func hex(_ s: String) -> [UInt8] { Hex.decode(s)! }

  func testRFC8032Vectors() {
    let vectors: [(sk: String, pk: String, msg: String, sig: String)] = [
      ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
      ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ]
    for v in vectors {
      let sk = hex(v.sk) + hex(v.pk)
      XCTAssertTrue(Ed25519.isSecretKey(sk), "the seed derives the public key")
      XCTAssertEqual(Hex.encode(Ed25519.sign(hex(v.msg), secretKey: sk)), v.sig)
      XCTAssertTrue(Ed25519.verify(hex(v.sig), hex(v.msg), publicKey: hex(v.pk)))
    }
  }

  func testKeysAndSignaturesAreLibsodiumsByteForByte() {
    for n in 0..<300 {
      let (pk, sk) = Ed25519.keypair()
      var theirPK = [UInt8](repeating: 0, count: 32), theirSK = [UInt8](repeating: 0, count: 64)
      _ = crypto_sign_seed_keypair(&theirPK, &theirSK, Array(sk[0..<32]))
      XCTAssertEqual(pk, theirPK, "key \(n)")
      XCTAssertEqual(sk, theirSK, "key \(n)")
      var message = [UInt8](repeating: 0, count: n * 7)
      message.withUnsafeMutableBytes { if let p = $0.baseAddress { randombytes_buf(p, $0.count) } }
      var theirs = [UInt8](repeating: 0, count: 64)
      var len: UInt64 = 0
      _ = crypto_sign_detached(&theirs, &len, message, UInt64(message.count), sk)
      let mine = Ed25519.sign(message, secretKey: sk)
      XCTAssertEqual(mine, theirs, "signature \(n)")
      XCTAssertTrue(Ed25519.verify(mine, message, publicKey: pk))
      var tampered = message + [1]
      XCTAssertFalse(Ed25519.verify(mine, tampered, publicKey: pk))
      tampered.removeAll()
    }
  }

  func testASecretKeyWhoseHalvesDoNotMatchIsNotOne() {
    let (_, sk) = Ed25519.keypair()
    var wrong = sk
    wrong[40] ^= 1
    XCTAssertTrue(Ed25519.isSecretKey(sk))
    XCTAssertFalse(Ed25519.isSecretKey(wrong))
    XCTAssertTrue(Ed25519.isSecretKey(Array((Hex.encode(sk) + "\n").utf8)))
  }
}
