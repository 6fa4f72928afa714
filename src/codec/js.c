/*
 * JavaScript payload codecs (codec.h) on MuJS, Debian's libmujs: a script in the form The
 * Things Stack and ChirpStack use — decodeUplink(input) -> {data, warnings, errors},
 * encodeDownlink(input) -> {bytes, fPort, warnings, errors} — compiled once and called
 * many times, in a sandbox:
 *
 * - no I/O: the MuJS library defines only the ECMAScript built-ins (print, load, read,
 *   require belong to the mujs shell, not to the library); console.log appends to a
 *   bounded log the caller reads;
 * - a memory cap: every allocation goes through our allocator, which counts the bytes
 *   and refuses past the cap (MuJS then throws "out of memory", an ordinary error);
 * - a time budget: MuJS has no instruction hook, so a per-call POSIX timer sends a signal
 *   to the calling thread when the budget is spent. The handler leaves the interpreter
 *   with siglongjmp — but only when the interrupted instruction lies inside libmujs's own
 *   code (its address range is read from the loaded objects once): inside libc (malloc
 *   holding its lock, localtime holding the time-zone lock) or in our allocator, it
 *   re-arms the timer for 1 ms and tries again, and the allocator gives up on its own at
 *   its next call. The interpreter's state is then inconsistent, so it is never touched
 *   again: every block it allocated is on our allocator's list and is freed directly, and
 *   the script is compiled anew before the next call.
 *
 * Thread-safety: one struct lg_js is used by one thread at a time (the caller
 * serialises, e.g. a mutex per codec); different lg_js run on different threads
 * concurrently. The timer signal (LG_JS_SIGNAL) is handled process-wide once.
 */
#define _GNU_SOURCE /* REG_RIP in ucontext, SIGEV_THREAD_ID, dl_iterate_phdr */
#include <dlfcn.h>
#include <jansson.h>
#include <link.h>
#include <mujs.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "codec/codec.h"
#include "util/util.h"

#define LG_JS_SIGNAL (SIGRTMIN + 4)
#define LOG_MAX 4096

/* One allocation: a header on our list, then the block MuJS sees. */
struct blk {
  struct blk *prev, *next;
  size_t size;
  size_t pad; /* 32 bytes: the block stays 16-byte aligned */
};

struct lg_js {
  char *source;
  size_t mem_cap, mem_used;
  int64_t budget_ns;
  struct blk head; /* circular list of live blocks */
  js_State *J;     /* NULL: to be compiled (first call, or after an interrupt) */
  char log[LOG_MAX];
  size_t log_len;
  /* while a call runs */
  sigjmp_buf escape;
  volatile sig_atomic_t expired, in_alloc;
  timer_t timer;
  bool has_timer;
};

static _Thread_local struct lg_js *volatile running;
static uintptr_t mujs_lo, mujs_hi; /* libmujs's executable segments: [lo, hi) */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool can_interrupt;

/* ---- the allocator ------------------------------------------------------------------ */

static void unlink_blk(struct lg_js *js, struct blk *b) {
  b->prev->next = b->next;
  b->next->prev = b->prev;
  js->mem_used -= b->size;
}

static void link_blk(struct lg_js *js, struct blk *b) {
  b->next = js->head.next;
  b->prev = &js->head;
  js->head.next->prev = b;
  js->head.next = b;
  js->mem_used += b->size;
}

static void *js_alloc(void *ctx, void *ptr, int size) {
  struct lg_js *js = ctx;
  if (js->expired && running == js) siglongjmp(js->escape, 1); /* the budget is spent */
  js->in_alloc = 1;
  void *res = NULL;
  struct blk *old = ptr ? (struct blk *)ptr - 1 : NULL;
  if (size <= 0) { /* free */
    if (old) {
      unlink_blk(js, old);
      free(old);
    }
  } else if (js->mem_used - (old ? old->size : 0) + (size_t)size > js->mem_cap) {
    res = NULL; /* over the cap: MuJS throws "out of memory" */
  } else if (old == NULL) {
    struct blk *b = malloc(sizeof(*b) + (size_t)size);
    if (b) {
      b->size = (size_t)size;
      link_blk(js, b);
      res = b + 1;
    }
  } else {
    unlink_blk(js, old);
    struct blk *b = realloc(old, sizeof(*b) + (size_t)size);
    if (b) b->size = (size_t)size;
    link_blk(js, b ? b : old);
    res = b ? (void *)(b + 1) : NULL;
  }
  js->in_alloc = 0;
  return res;
}

/* Frees every block of an abandoned interpreter without looking into it. */
static void drop_state(struct lg_js *js) {
  struct blk *b = js->head.next;
  while (b != &js->head) {
    struct blk *next = b->next;
    free(b);
    b = next;
  }
  js->head.next = js->head.prev = &js->head;
  js->mem_used = 0;
  js->J = NULL;
}

/* ---- the time budget ---------------------------------------------------------------- */

static void arm(struct lg_js *js, int64_t ns) {
  struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ns / 1000000000),
                                        .tv_nsec = (long)(ns % 1000000000)}};
  timer_settime(js->timer, 0, &its, NULL);
}

static void on_timer(int sig, siginfo_t *si, void *uc_) {
  (void)sig;
  (void)si;
  struct lg_js *js = running;
  if (js == NULL) return; /* a late signal after the call ended */
  js->expired = 1;
  uintptr_t pc = 0;
#if defined(__x86_64__)
  pc = (uintptr_t)((ucontext_t *)uc_)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  pc = (uintptr_t)((ucontext_t *)uc_)->uc_mcontext.pc;
#else
  (void)uc_;
#endif
  if (!js->in_alloc && pc >= mujs_lo && pc < mujs_hi) siglongjmp(js->escape, 1);
  arm(js, 1000000); /* in libc or in our code: again in 1 ms */
}

static int find_mujs(struct dl_phdr_info *info, size_t size, void *base) {
  (void)size;
  if (info->dlpi_addr != (ElfW(Addr))(uintptr_t)base) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (mujs_lo == 0 || lo < mujs_lo) mujs_lo = lo;
    if (hi > mujs_hi) mujs_hi = hi;
  }
  return 1;
}

static void setup_once(void) {
  Dl_info di;
  void *self = dlopen(NULL, RTLD_NOW | RTLD_NOLOAD);
  struct link_map *main_map = NULL;
  if (self) dlinfo(self, RTLD_DI_LINKMAP, &main_map);
  /* MuJS must be a shared object of its own: in a static link its range would be ours */
  if (dladdr((void *)js_newstate, &di) && di.dli_fbase &&
      (main_map == NULL || (uintptr_t)di.dli_fbase != (uintptr_t)main_map->l_addr)) {
    /* dlpi_addr is the load bias, which for a shared object is its base */
    dl_iterate_phdr(find_mujs, di.dli_fbase);
  }
  if (self) dlclose(self);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_timer;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  can_interrupt = mujs_hi > mujs_lo && sigaction(LG_JS_SIGNAL, &sa, NULL) == 0;
}

bool lg_js_interruptible(void) {
  pthread_once(&once, setup_once);
  return can_interrupt;
}

/* ---- the sandbox --------------------------------------------------------------------- */

static void console_log(js_State *J) {
  struct lg_js *js = js_getcontext(J);
  int top = js_gettop(J);
  for (int i = 1; i < top; i++) {
    const char *s = js_tostring(J, i);
    size_t n = strlen(s), room = LOG_MAX - 1 - js->log_len;
    if (i > 1 && room) js->log[js->log_len++] = ' ', room--;
    if (n > room) n = room;
    memcpy(js->log + js->log_len, s, n);
    js->log_len += n;
  }
  if (js->log_len < LOG_MAX - 1) js->log[js->log_len++] = '\n';
  js->log[js->log_len] = '\0';
  js_pushundefined(J);
}

/* Calls f(input) with the built-ins captured before the script ran, so a script that
 * replaces JSON or Date breaks only itself. */
static const char glue[] =
    "(function (parse, stringify, D) {\n"
    "  return function (f, s, up) {\n"
    "    var i = parse(s);\n"
    "    if (up) i.recvTime = new D(i.recvTime);\n"
    "    var r = f(i);\n"
    "    return r === undefined ? undefined : stringify(r);\n"
    "  };\n"
    "})(JSON.parse, JSON.stringify, Date)";

static void report_nothing(js_State *J, const char *message) {
  (void)J;
  (void)message;
}

/* The error on top of the stack as text. */
static void error_text(js_State *J, char *why, size_t why_len) {
  const char *s = js_trystring(J, -1, "an error that is not a string");
  snprintf(why, why_len, "%s", s);
  js_pop(J, 1);
}

/* With the budget armed: a fresh interpreter with the script run once. Every MuJS call
 * that may throw (out of memory included) runs inside js_try: an uncaught throw would
 * abort the process. */
static int compile(struct lg_js *js, char *why, size_t why_len) {
  js_State *J = js_newstate(js_alloc, js, 0);
  if (J == NULL) {
    snprintf(why, why_len, "out of memory creating the interpreter (cap %zu bytes)", js->mem_cap);
    drop_state(js);
    return LG_ENOMEM;
  }
  js->J = J;
  js_setcontext(J, js);
  js_setreport(J, report_nothing);
  if (js_try(J)) {
    error_text(J, why, why_len);
    js_freestate(J);
    drop_state(js);
    return LG_EINVAL;
  }
  js_newobject(J);
  js_newcfunction(J, console_log, "log", 1);
  js_setproperty(J, -2, "log");
  js_setglobal(J, "console");
  js_loadstring(J, "[glue]", glue);
  js_pushundefined(J);
  js_call(J, 0);
  js_setregistry(J, "lg_glue");
  js_loadstring(J, "codec.js", js->source);
  js_pushundefined(J);
  js_call(J, 0);
  js_pop(J, 1);
  js_endtry(J);
  return 0;
}

/* glue(fn, input_json, is_uplink) -> the JSON text fn returned, in *out. */
static int invoke(struct lg_js *js, const char *fn, const char *input_json, int is_uplink,
                  char **out, char *why, size_t why_len) {
  js_State *J = js->J;
  if (js_try(J)) {
    error_text(J, why, why_len);
    return LG_EINVAL;
  }
  js_getglobal(J, fn);
  int callable = js_iscallable(J, -1);
  js_pop(J, 1);
  if (!callable) {
    js_endtry(J);
    snprintf(why, why_len, "the script defines no function %s", fn);
    return LG_ENOTFOUND;
  }
  js_getregistry(J, "lg_glue");
  js_pushundefined(J);
  js_getglobal(J, fn);
  js_pushstring(J, input_json);
  js_pushboolean(J, is_uplink);
  js_call(J, 3);
  int none = js_isundefined(J, -1);
  *out = none ? NULL : strdup(js_tostring(J, -1));
  js_pop(J, 1);
  js_endtry(J);
  if (none) {
    snprintf(why, why_len, "%s returned nothing", fn);
    return LG_EINVAL;
  }
  return *out ? 0 : LG_ENOMEM;
}

struct lg_js *lg_js_new(const char *source, size_t len, int timeout_ms, size_t mem_cap,
                        char *why, size_t why_len) {
  if (timeout_ms < 1 || mem_cap < 256 * 1024) {
    snprintf(why, why_len, "a time budget of 1 ms or more and a memory cap of 256 KiB or more");
    return NULL;
  }
  if (memchr(source, '\0', len)) {
    snprintf(why, why_len, "the script holds a NUL byte");
    return NULL;
  }
  struct lg_js *js = calloc(1, sizeof(*js));
  if (js == NULL || (js->source = malloc(len + 1)) == NULL) {
    free(js);
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  memcpy(js->source, source, len);
  js->source[len] = '\0';
  js->mem_cap = mem_cap;
  js->budget_ns = (int64_t)timeout_ms * 1000000;
  js->head.next = js->head.prev = &js->head;
  if (lg_js_call(js, NULL, NULL, 0, NULL, why, why_len) != 0) { /* compiles it */
    lg_js_free(js);
    return NULL;
  }
  return js;
}

void lg_js_free(struct lg_js *js) {
  if (js == NULL) return;
  if (js->J) js_freestate(js->J);
  drop_state(js); /* anything left (nothing after a clean js_freestate) */
  free(js->source);
  free(js);
}

const char *lg_js_log(const struct lg_js *js) {
  return js->log;
}

/* Runs fn (a global) on input_json under the budget; the JSON text it returned in *out
 * (caller frees). fn NULL: only makes sure the script is compiled. */
int lg_js_call(struct lg_js *js, const char *fn, const char *input_json, int is_uplink,
               char **out, char *why, size_t why_len) {
  pthread_once(&once, setup_once);
  if (out) *out = NULL;
  js->log_len = 0;
  js->log[0] = '\0';
  js->expired = 0;
  js->in_alloc = 0;
  js->has_timer = false;
  if (can_interrupt) {
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = LG_JS_SIGNAL;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    js->has_timer = timer_create(CLOCK_MONOTONIC, &sev, &js->timer) == 0;
  }
  if (!js->has_timer) { /* never run a script without its budget */
    snprintf(why, why_len, "%s", can_interrupt ? "cannot arm the time budget's timer"
                                               : "the time budget cannot be enforced here");
    return LG_EIO;
  }
  int rc = 0;
  running = js;
  if (sigsetjmp(js->escape, 1)) { /* the budget ran out */
    running = NULL;
    timer_delete(js->timer);
    drop_state(js);
    snprintf(why, why_len, "ran past its time budget of %lld ms",
             (long long)(js->budget_ns / 1000000));
    return LG_EBUSY;
  }
  arm(js, js->budget_ns);
  if (js->J == NULL) rc = compile(js, why, why_len);
  if (rc == 0 && fn) rc = invoke(js, fn, input_json, is_uplink, out, why, why_len);
  running = NULL;
  timer_delete(js->timer);
  if (rc == LG_EINVAL && js->J && js->mem_used > js->mem_cap / 2)
    js_gc(js->J, 0); /* after an out-of-memory, give the next call its room back */
  return rc;
}
