/* malloc_meter: counts the C heap the MicroPython VM's built-in ssl (Mbed TLS) uses, for the benchmark.
 *
 * On the unix port Mbed TLS allocates with libc malloc, outside the MicroPython heap that -X heapsize
 * caps (on the RP2040 port it allocates from that heap; on the ESP32 from ESP-IDF's heap beside it).
 * Preloaded into the VM process (LD_PRELOAD), this library keeps the live bytes and their peak, and
 * answers through getenv(), which MicroPython code can call as os.getenv():
 *     os.getenv("MALLOC_METER_RESET")  -> the live byte count; the peak starts again from it
 *     os.getenv("MALLOC_METER")        -> "<live> <peak since the last reset>"
 * Built by host_tools/bench.py with the system C compiler; used by nothing else.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long live, peak;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static char *(*real_getenv)(const char *);
static char answer[64];

/* dlsym may call calloc before real_calloc is known: serve that from a small static pool. */
static char boot_pool[4096];
static size_t boot_used;

static void init(void) {
    if (real_malloc) return;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_free = dlsym(RTLD_NEXT, "free");
    real_getenv = dlsym(RTLD_NEXT, "getenv");
}

static int from_pool(void *p) {
    return (char *)p >= boot_pool && (char *)p < boot_pool + sizeof boot_pool;
}

static void account(long delta) {
    live += delta;
    if (live > peak) peak = live;
}

void *malloc(size_t n) {
    init();
    void *p = real_malloc(n);
    if (p) account((long)malloc_usable_size(p));
    return p;
}

void *calloc(size_t k, size_t n) {
    if (!real_calloc) {
        size_t want = (k * n + 15) & ~(size_t)15;
        if (boot_used + want > sizeof boot_pool) return NULL;
        void *p = boot_pool + boot_used;
        boot_used += want;
        return p;
    }
    void *p = real_calloc(k, n);
    if (p) account((long)malloc_usable_size(p));
    return p;
}

void *realloc(void *old, size_t n) {
    init();
    if (old && from_pool(old)) {
        void *p = malloc(n);
        if (p) memcpy(p, old, n);
        return p;
    }
    long before = old ? (long)malloc_usable_size(old) : 0;
    void *p = real_realloc(old, n);
    if (p) account((long)malloc_usable_size(p) - before);
    else if (n == 0) account(-before);
    return p;
}

int posix_memalign(void **out, size_t align, size_t n) {
    static int (*real)(void **, size_t, size_t);
    init();
    if (!real) real = dlsym(RTLD_NEXT, "posix_memalign");
    int r = real(out, align, n);
    if (r == 0) account((long)malloc_usable_size(*out));
    return r;
}

void *aligned_alloc(size_t align, size_t n) {
    static void *(*real)(size_t, size_t);
    init();
    if (!real) real = dlsym(RTLD_NEXT, "aligned_alloc");
    void *p = real(align, n);
    if (p) account((long)malloc_usable_size(p));
    return p;
}

void free(void *p) {
    if (!p || from_pool(p)) return;
    init();
    account(-(long)malloc_usable_size(p));
    real_free(p);
}

char *getenv(const char *name) {
    init();
    if (name && strcmp(name, "MALLOC_METER_RESET") == 0) {
        peak = live;
        snprintf(answer, sizeof answer, "%ld", live);
        return answer;
    }
    if (name && strcmp(name, "MALLOC_METER") == 0) {
        snprintf(answer, sizeof answer, "%ld %ld", live, peak);
        return answer;
    }
    return real_getenv(name);
}
