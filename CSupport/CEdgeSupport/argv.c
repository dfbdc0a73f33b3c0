#include "edge_support.h"

/* Embedded Swift has no CommandLine, so the arguments are kept here. */
static int s_argc;
static char **s_argv;
static char **s_envp;

#ifdef EDGE_MUSL
/* musl calls constructors with no arguments. Its crt1.o hands argc and argv to
 * __libc_start_main, which the static link wraps (--wrap=__libc_start_main, Package.swift): keep
 * them and go on. The signature is musl's (src/env/__libc_start_main.c); the environment follows
 * argv's terminating null, as the ELF entry point lays it out. */
typedef int (*edge_main_fn)(int, char **, char **);
int __real___libc_start_main(edge_main_fn main, int argc, char **argv,
                             void (*init)(void), void (*fini)(void), void (*ldso)(void));

int __wrap___libc_start_main(edge_main_fn main, int argc, char **argv,
                             void (*init)(void), void (*fini)(void), void (*ldso)(void)) {
  s_argc = argc;
  s_argv = argv;
  s_envp = argv + argc + 1;
  return __real___libc_start_main(main, argc, argv, init, fini, ldso);
}
#else
/* glibc calls .init_array entries with (argc, argv, envp). */
__attribute__((constructor)) static void edge_capture_args(int argc, char **argv, char **envp) {
  s_argc = argc;
  s_argv = argv;
  s_envp = envp;
}
#endif

int edge_argc(void) { return s_argc; }
char **edge_argv(void) { return s_argv; }
char **edge_envp(void) { return s_envp; }
