/* floor.c: a measuring stick for the agent's share of boot, not part of the product.
 *
 * Under an emulated CPU most of what follows the kernel's hand-over to /init is the kernel's
 * own work done for the first time: exec, mounts, module loads (signature checks included),
 * the first ext4 write and flush, the first fork and exec of busybox. Any init pays that.
 * This /init does the same kernel work as the agent's first convergence of Cross/boot's policy,
 * with as little user code as C allows and nothing else: no logging, no parsing beyond finding
 * the module paths in the bootstrap config, no signature, no database. Run.sh boots it and the
 * agent in turn; the difference is what the agent itself costs.
 *
 * Same steps, same order as the agent (Daemon.init, then the first converge):
 *   mount /proc /sys /dev /run; bring up lo; load the config's modules; mount the state disk
 *   (and the bundle disk when there); boot 1: read the bundle and write it to the state file,
 *   boot 2: read the state file; run /bin/touch and wait; make /srv/www, index.html and the
 *   /srv/current link; write the outcomes and fdatasync; start httpd; then
 *   "first convergence complete" to /dev/kmsg, as the agent does.
 * Then it powers off, so a boot ends by itself. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static unsigned long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static int kmsg = -1;
static void say(const char *s) { if (kmsg >= 0) write(kmsg, s, strlen(s)); }

/* Loads every "/lib/modules/....ko" named in the config, in order (as the agent does). */
static void load_modules(void) {
  static char cfg[16384];
  int fd = open("/etc/edgeagent/config.json", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, cfg, sizeof cfg - 1);
  close(fd);
  if (n <= 0) return;
  cfg[n] = 0;
  for (char *p = strstr(cfg, "\"/lib/modules/"); p; p = strstr(p, "\"/lib/modules/")) {
    char *end = strchr(p + 1, '"');
    if (!end) break;
    *end = 0;
    int m = open(p + 1, O_RDONLY | O_CLOEXEC);
    if (m >= 0) { syscall(SYS_finit_module, m, "", 0); close(m); }
    p = end + 1;
  }
}

static pid_t run(char *const argv[]) {
  pid_t pid = 0;
  return posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0 ? pid : -1;
}

int main(void) {
  unsigned long long t0 = now_us();
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  int console = open("/dev/console", O_WRONLY | O_CLOEXEC);

  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) { ifr.ifr_flags |= IFF_UP; ioctl(s, SIOCSIFFLAGS, &ifr); }
  close(s);

  load_modules();
  /* The agent makes its mount points (the image has /srv but not /srv/source). */
  mkdir("/var/lib/edgeagent", 0755);
  mount("/dev/vda", "/var/lib/edgeagent", "ext4", MS_NOATIME, "");
  mkdir("/srv/source", 0755);
  int have_source = mount("/dev/vdb", "/srv/source", "ext4", MS_RDONLY, "") == 0;

  /* The state: 512 KiB preallocated on first boot, like the agent's data.mdb. */
  static char buf[64 << 10];
  int st = open("/var/lib/edgeagent/floor.state", O_RDWR | O_CLOEXEC);
  if (st < 0) {
    st = open("/var/lib/edgeagent/floor.state", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < 8; i++) pwrite(st, buf, sizeof buf, (off_t)i * sizeof buf);
  } else {
    pread(st, buf, sizeof buf, 0);
  }
  if (have_source) {
    int b = open("/srv/source/bundle/bundle.json", O_RDONLY | O_CLOEXEC);
    ssize_t n = b >= 0 ? read(b, buf, sizeof buf) : 0;
    if (b >= 0) close(b);
    if (n > 0) pwrite(st, buf, (size_t)n, 8192);
  }

  char *touch[] = {"/bin/touch", "/run/edgeagent-booted", NULL};
  pid_t t = run(touch);
  if (t > 0) waitpid(t, NULL, 0);
  mkdir("/srv/www", 0755);
  int f = open("/srv/www/index.html", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f >= 0) { write(f, "hello from edgeagent\n", 21); fsync(f); close(f); }
  symlink("www", "/srv/current");
  pwrite(st, "outcomes", 8, 4096);
  fdatasync(st);
  char *httpd[] = {"/bin/httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/srv/www", NULL};
  pid_t web = run(httpd);
  say("<6>edgeagent-floor: first convergence complete\n");

  char line[128];
  int n = snprintf(line, sizeof line, "floor: exec -> converged %llu us (source disk: %s)\n",
                   now_us() - t0, have_source ? "yes" : "no");
  if (console >= 0) write(console, line, (size_t)n);
  usleep(200000);
  if (web > 0) { kill(web, SIGKILL); waitpid(web, NULL, 0); }
  close(st);
  sync();
  if (have_source) umount("/srv/source");
  umount("/var/lib/edgeagent");
  reboot(RB_POWER_OFF);
  return 0;
}
