/* Static builds only (EDGE_TRIM_LIBC). glibc's C-locale character tables (C-ctype.o) are needed
 * at start-up (__libc_early_init reads them), and they point at wcsmbsload.o, the loader of
 * multibyte converters, which pulls in gconv, its configuration reader (stdio) and the dynamic
 * loader that would dlopen converter modules: about 200 KB that a static agent, which never
 * calls setlocale or a wide-character function, cannot use.
 *
 * These definitions replace wcsmbsload.o. The C locale's converter table is empty, and loading
 * another converter fails loudly. Cross/build.sh refuses a binary in which a wide-character
 * function (mbrtowc, wcrtomb, the wide stdio) is linked, since it would reach that empty table.
 * Names and layout are glibc 2.36's (Debian 12), which Cross/setup.sh installs. */
#ifdef EDGE_TRIM_LIBC
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

struct gconv_fcts { void *towc; size_t towc_nsteps; void *tomb; size_t tomb_nsteps; };
const struct gconv_fcts __wcsmbs_gconv_fcts_c = { NULL, 0, NULL, 0 };

__attribute__((noreturn)) static void no_conversion(void) {
  static const char m[] = "edgeagent: fatal: no multibyte conversion in the static build\n";
  ssize_t r = write(2, m, sizeof m - 1);
  (void)r;
  abort();
}

int __wcsmbs_load_conv(void *locale_data) { (void)locale_data; no_conversion(); }
void __wcsmbs_clone_conv(void *copy) { (void)copy; no_conversion(); }
int __wcsmbs_named_conv(void *copy, const char *name) { (void)copy; (void)name; no_conversion(); }
const struct gconv_fcts *__wcsmbs_getfct(void) { no_conversion(); }
void _nl_cleanup_ctype(void *locale) { (void)locale; }

/* Start-up needs the tables; nothing else of ours names them, so keep them linked. */
extern const char _nl_C_LC_CTYPE[];
__attribute__((used)) const void *const edge_keep_c_ctype = _nl_C_LC_CTYPE;
#endif
