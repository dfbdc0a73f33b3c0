/* Embedded Swift 6.3.1's runtime (64-bit targets) returns the wrong value from
 * swift_bridgeObjectRetain and swift_bridgeObjectRetain_n: the object with its tag bits masked
 * off (& 0x8ffffffffffffff8), where the compiler declares the argument `returned` and so may
 * use the result as the object itself. A String's object word is such a bridge object, and for a
 * small string it holds the discriminator and up to 7 of the characters: masked, 0xef6b6365...65
 * ("kept-file-check") came back as 0xef -> 0x8f, a large string at a wild address. aarch64 code
 * used the result (`edgeagent bench --baseline` segfaulted in String ==); x86_64 code happened
 * not to. These strong definitions take the place of the runtime's weak ones: the same retain
 * of the untagged object, through the runtime's own swift_retain_n, and the object returned as
 * it came. The full (non-Embedded) build has the real runtime and does not compile this. */
#include <stdint.h>
#if defined(EDGE_EMBEDDED_BRIDGE_RETAIN) && UINTPTR_MAX == 0xffffffffffffffffu

void *swift_retain_n(void *object, uint32_t n);

/* The runtime's own constants (HeapObject.immortalBit, bridgeObjectToPlainObjectMask). */
#define EDGE_BRIDGE_IMMORTAL ((uintptr_t)1 << 63)
#define EDGE_BRIDGE_PLAIN_MASK ((uintptr_t)0x8ffffffffffffff8u)

void *swift_bridgeObjectRetain_n(void *object, uint32_t n) {
  uintptr_t bits = (uintptr_t)object;
  if ((bits & EDGE_BRIDGE_IMMORTAL) == 0 && (bits & EDGE_BRIDGE_PLAIN_MASK) != 0)
    swift_retain_n((void *)(bits & EDGE_BRIDGE_PLAIN_MASK), n);
  return object;
}

void *swift_bridgeObjectRetain(void *object) { return swift_bridgeObjectRetain_n(object, 1); }
#endif
