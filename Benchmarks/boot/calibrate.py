"""Prints calibrate.c for Benchmarks/boot/blocks.sh: an /init that calls 4,000 distinct small
functions once (each translated by qemu, then run), then all of them again (run from qemu's
cache), times both passes, prints them on the console and powers off. The first pass less the
second is what translating that much code costs."""
N = 4000
print('#include <stdio.h>\n#include <time.h>\n#include <sys/mount.h>\n#include <sys/reboot.h>\n#include <unistd.h>')
print('volatile unsigned long sink;')
for i in range(N):
    print(f'__attribute__((noinline)) unsigned long f{i}(unsigned long x) {{ if (x & {1 << (i % 7)}) x = x * {i + 3} + {i}; '
          f'else x ^= {i * 7 + 1}; if (x > {i * 13}) x -= {i}; return x + {i}; }}')
print('static unsigned long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); '
      'return t.tv_sec * 1000000000ull + t.tv_nsec; }')
print('int main(void) {\n  mount("devtmpfs", "/dev", "devtmpfs", 0, "");\n  FILE *c = fopen("/dev/console", "w");')
print('  unsigned long x = 1;\n  unsigned long long t0 = now();')
for i in range(N):
    print(f'  x = f{i}(x);')
print('  unsigned long long t1 = now();')
for i in range(N):
    print(f'  x = f{i}(x);')
print('  unsigned long long t2 = now();\n  sink = x;')
print('  fprintf(c, "calibrate: first pass %llu us, second pass %llu us\\n", (t1 - t0) / 1000, (t2 - t1) / 1000);')
print('  fflush(c);\n  reboot(RB_POWER_OFF);\n  return 0;\n}')
