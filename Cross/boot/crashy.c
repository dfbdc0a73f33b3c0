/* A stand-in for a broken agent release, for Cross/boot-test.sh's rollback boots: it passes the
   agent's self-test (`crashy self-test ...` exits 0), then, run as the agent (PID 1 of the VM),
   dies of SIGSEGV: the kernel panics ("Attempted to kill init"), and the image's panic=-1
   reboots it. A fixture built by Cross/image.sh, never part of the agent. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "self-test") == 0) {
    puts("self-test passed (crashy)");
    return 0;
  }
  fprintf(stderr, "crashy: running as the agent, crashing\n");
  usleep(100000);
  *(volatile int *)0 = 1;
  return 0;
}
