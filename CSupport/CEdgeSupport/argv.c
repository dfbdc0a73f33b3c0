#include "edge_support.h"

/* glibc calls .init_array entries with (argc, argv, envp); Embedded Swift has no CommandLine.
 * musl does not pass these arguments, so this ties the binary to glibc. */
static int s_argc;
static char **s_argv;
static char **s_envp;

__attribute__((constructor)) static void edge_capture_args(int argc, char **argv, char **envp) {
  s_argc = argc;
  s_argv = argv;
  s_envp = envp;
}

int edge_argc(void) { return s_argc; }
char **edge_argv(void) { return s_argv; }
char **edge_envp(void) { return s_envp; }
