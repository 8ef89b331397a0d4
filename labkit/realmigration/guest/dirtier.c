/*
 * dirtier: the lab guest's workload. It writes memory at a controlled rate
 * and pattern so that a live migration has a known dirty rate to chase.
 *
 * Settings come from the environment, which the kernel fills from its command
 * line (name=value words it does not know are passed to init):
 *
 *   wss_mib=N      working set: N MiB made non-zero once at start (default 64)
 *   hot_mib=N      hot set: the first N MiB of it, rewritten for ever (default 16)
 *   rate=N         pages (4 KiB) written per second; 0 writes nothing (default 2560)
 *   pattern=seq    seq: walk the hot set in order; random: pick pages at random
 *   mode=sleep     sleep: write each 10 ms tick's pages, then sleep to the next tick
 *                  spin:  spin between writes, so that the rate follows the CPU
 *                         time the vCPU gets (what a throttle can slow down)
 *
 * It prints "dirtier: ready" once the working set is written, then one line a
 * second with the pages written so far, on the console.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096UL
#define TICK_NS 10000000L

static long setting(const char *name, long fallback)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0) {
        printf("dirtier: bad %s=%s, using %ld\n", name, v, fallback);
        return fallback;
    }
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;
static inline uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static volatile uint64_t spin_sink;
static void spin(long n)
{
    uint64_t x = spin_sink;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005ULL + 1;
    spin_sink = x;
}

int main(void)
{
    long wss = setting("wss_mib", 64) * 256;   /* pages */
    long hot = setting("hot_mib", 16) * 256;
    long rate = setting("rate", 2560);
    const char *pattern = getenv("pattern") ? getenv("pattern") : "seq";
    const char *mode = getenv("mode") ? getenv("mode") : "sleep";
    int random_pattern = strcmp(pattern, "random") == 0;
    int spinning = strcmp(mode, "spin") == 0;

    if (wss < 1)
        wss = 1;
    if (hot < 1 || hot > wss)
        hot = wss;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("dirtier: wss %ld pages, hot %ld pages, rate %ld pages/s, pattern %s, mode %s\n",
           wss, hot, rate, random_pattern ? "random" : "seq", spinning ? "spin" : "sleep");

    volatile uint64_t *mem = mmap(NULL, wss * PAGE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) {
        printf("dirtier: cannot map %ld MiB\n", wss / 256);
        return 1;
    }
    uint64_t stamp = 1;
    for (long p = 0; p < wss; p++)            /* every page non-zero: sent in full */
        mem[p * (PAGE / 8)] = stamp++;

    long spins = 0;
    if (spinning && rate > 0) {               /* loop iterations per page for the rate */
        /* Let the kernel finish its boot-time work first, then keep the fastest of three
         * half-second measurements: a slow one means something else had the CPU. */
        struct timespec settle = {1, 0};
        nanosleep(&settle, NULL);
        double best = 0;
        for (int round = 0; round < 3; round++) {
            long n = 1 << 16, done = 0;
            double t0 = now(), dt;
            do {
                spin(n);
                done += n;
                dt = now() - t0;
            } while (dt < 0.5);
            if (done / dt > best)
                best = done / dt;
        }
        spins = (long)(best / rate);
        printf("dirtier: %ld spins per page\n", spins);
    }
    printf("dirtier: ready\n");

    double start = now(), next_report = start + 1;
    long written = 0, cursor = 0;
    struct timespec tick = {0, TICK_NS};
    while (1) {
        long due;
        if (spinning) {
            due = 1;
        } else {
            due = (long)((now() - start) * rate) - written;
        }
        for (long i = 0; i < due && rate > 0; i++) {
            long p = random_pattern ? (long)(next_random() % (uint64_t)hot) : cursor++ % hot;
            mem[p * (PAGE / 8) + (written & 511)] = stamp++;
            written++;
            if (spinning)
                spin(spins);
        }
        double t = now();
        if (t >= next_report) {
            printf("dirtier: t=%.0f written=%ld\n", t - start, written);
            next_report += 1;
        }
        if (!spinning || rate == 0)
            nanosleep(&tick, NULL);
    }
}
