// SPDX-License-Identifier: MIT
// libmp1boot-uevent-fanout.so: preloaded by mp1boot-usbsim into every process on its simulated bus,
// in front of libumockdev-preload, so that every udev monitor receives every uevent, as the kernel
// multicasts to every netlink listener.
//
// Why: libumockdev-preload turns a uevent netlink socket into a Unix socket bound at
// $UMOCKDEV_DIR/event<FD>, named after the socket's file descriptor number, and removes whatever
// was bound there before. Two processes on one testbed whose monitors got the same descriptor
// number (likely: both are libusb programs that open the same files in the same order) take the
// same name; the second one silently unbinds the first, which then never hears a hot-plug event
// again. Seen as a second `mp1boot flash` on the bus making the first miss its board's
// re-enumeration.
//
// What: when a uevent netlink socket is created, this library (under a lock file in the testbed,
// so that two processes cannot pick the same name at once) keeps asking for sockets until it gets
// a descriptor number whose event<FD> name is not held by a live listener in another process,
// binds that one at once (libumockdev-preload names it), and answers the caller's own bind() on it
// with success. Sockets that were skipped are closed again. Nothing else is touched.
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <cstring>
#include <mutex>

namespace {

using socket_fn = int (*)(int, int, int);
using bind_fn = int (*)(int, const sockaddr*, socklen_t);
using close_fn = int (*)(int);

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

constexpr int max_tracked = 256;
std::mutex g_mutex;
int g_prebound[max_tracked];  // descriptors bound here whose caller has not called bind() yet
std::atomic<int> g_prebound_count{0};

bool take_prebound(int fd) {
  std::lock_guard lock(g_mutex);
  int n = g_prebound_count.load();
  for (int i = 0; i < n; ++i)
    if (g_prebound[i] == fd) {
      g_prebound[i] = g_prebound[n - 1];
      g_prebound_count.store(n - 1);
      return true;
    }
  return false;
}

void add_prebound(int fd) {
  std::lock_guard lock(g_mutex);
  int n = g_prebound_count.load();
  if (n < max_tracked) {
    g_prebound[n] = fd;
    g_prebound_count.store(n + 1);
  }
}

// True when a process listens on `path` (a datagram connect succeeds). Raw system calls: nothing
// preloaded may see this probe.
bool live_listener(const char* path) {
  struct stat st {};
  if (::stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  int probe = static_cast<int>(syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (probe < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  bool live = syscall(SYS_connect, probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  syscall(SYS_close, probe);
  return live;
}

int uevent_socket(const char* dir, int type, int protocol) {
  static socket_fn real_socket = next<socket_fn>("socket");
  static bind_fn real_bind = next<bind_fn>("bind");
  static close_fn real_close = next<close_fn>("close");
  char lock_path[sizeof(sockaddr_un::sun_path)];
  std::snprintf(lock_path, sizeof lock_path, "%s/.uevent-fanout.lock", dir);
  int lock = static_cast<int>(syscall(SYS_openat, AT_FDCWD, lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  if (lock >= 0) syscall(SYS_flock, lock, LOCK_EX);
  int skipped[64];
  int n_skipped = 0;
  int fd = -1;
  for (;;) {
    fd = real_socket(AF_NETLINK, type, protocol);
    if (fd < 0) break;
    char path[sizeof(sockaddr_un::sun_path)];
    std::snprintf(path, sizeof path, "%s/event%d", dir, fd);
    if (!live_listener(path) || n_skipped == 64) break;
    skipped[n_skipped++] = fd;
  }
  if (fd >= 0) {
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    if (real_bind(fd, reinterpret_cast<sockaddr*>(&nl), sizeof nl) == 0) add_prebound(fd);
  }
  int saved = errno;
  for (int i = 0; i < n_skipped; ++i) real_close(skipped[i]);
  if (lock >= 0) syscall(SYS_close, lock);  // releases the lock
  errno = saved;
  return fd;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int socket(int domain, int type, int protocol) {
  static socket_fn real_socket = next<socket_fn>("socket");
  const char* dir = std::getenv("UMOCKDEV_DIR");
  if (domain == AF_NETLINK && protocol == NETLINK_KOBJECT_UEVENT && dir && *dir)
    return uevent_socket(dir, type, protocol);
  return real_socket(domain, type, protocol);
}

__attribute__((visibility("default"))) int bind(int fd, const sockaddr* addr, socklen_t len) {
  static bind_fn real_bind = next<bind_fn>("bind");
  if (g_prebound_count > 0 && take_prebound(fd)) return 0;
  return real_bind(fd, addr, len);
}

__attribute__((visibility("default"))) int close(int fd) {
  static close_fn real_close = next<close_fn>("close");
  if (g_prebound_count > 0) take_prebound(fd);
  return real_close(fd);
}

}  // extern "C"
