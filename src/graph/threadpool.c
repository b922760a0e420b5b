/*
 * The thread pool that splits one node's work across cores (pthreadpool's
 * pattern, made small): the calling thread publishes a job of `tasks`
 * independent tasks, every thread of the pool, the caller included, takes
 * task indices from one shared counter until none is left, and the caller
 * returns when all of them are finished.
 *
 *  - The job's generation and its next task index share one 64-bit word, and
 *    a task is taken by compare-and-swap on it: a thread that wakes late, when
 *    its job is over and the next one published, fails the swap instead of
 *    running a task of the wrong job.
 *  - Idle workers spin a short while on a wake counter, then wait on it (a
 *    futex natively, memory.atomic.wait32 in wasm). The caller never waits
 *    that way, because a browser's main thread may not: it only spins, and
 *    only for tasks already running on another thread.
 *  - One job runs at a time: a second caller, or a task that itself asks for
 *    threads, runs its tasks alone on its own thread.
 *
 * Natively the pool starts its workers with pthreads. In wasm the JS loader
 * starts Web Workers (worker_threads in Node) on the same shared memory, each
 * of which calls ei_threadpool_work; builds without wasm atomics have no pool.
 */
#include "threadpool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__wasm__) && !defined(__wasm_atomics__)
#define NO_THREADS 1
#elif !defined(__wasm__)
#include <pthread.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <sched.h>
#endif
#endif

/* Loads of the wake counter before an idle worker sleeps, about a millisecond: long enough that
 * the workers stay awake across the short serial nodes between two split ones (waking a sleeping
 * worker costs tens of microseconds per node), short enough that they sleep soon after a run. */
#define SPINS 1000000

struct ei_threadpool {
    int threads;
    _Atomic uint64_t state; /* job generation << 32 | next task index */
    _Atomic uint32_t wake;  /* bumped when a job is published and at shutdown */
    _Atomic uint32_t done;  /* tasks of the current job finished */
    _Atomic int busy;       /* a job is running */
    _Atomic int quit;
    /* The current job, written before its generation is published. */
    _Atomic uint32_t tasks;
    _Atomic(tp_task) fn;
    _Atomic(void *) arg;
#ifndef __wasm__
    pthread_t *tid;        /* [threads]: tid[0] unused (the caller) */
    struct worker_arg *args;
    int started;           /* workers running, counting the caller */
#endif
};

#ifndef NO_THREADS
static void sleep_while(_Atomic uint32_t *word, uint32_t value)
{
#if defined(__wasm__)
    __builtin_wasm_memory_atomic_wait32((int *)word, (int)value, -1);
#elif defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    (void)word, (void)value;
    sched_yield();
#endif
}

static void wake_all(_Atomic uint32_t *word)
{
#if defined(__wasm__)
    __builtin_wasm_memory_atomic_notify((int *)word, (unsigned)-1);
#elif defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#else
    (void)word;
#endif
}

/* Takes and runs tasks of the job current when it was called, as thread `thread`. */
static void run_tasks(ei_threadpool *p, int thread)
{
    for (;;) {
        uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
        uint32_t i = (uint32_t)s;
        /* Acquire: a field of the next job seen here means its closing of state (tp_run) is seen by
         * the swap below, which then fails. */
        uint32_t n = atomic_load_explicit(&p->tasks, memory_order_acquire);
        tp_task fn = atomic_load_explicit(&p->fn, memory_order_acquire);
        void *arg = atomic_load_explicit(&p->arg, memory_order_acquire);
        if (i >= n) return;
        /* Success means the job read above is still the current one, and task i is ours. */
        if (!atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue;
        fn(arg, i, thread);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

void ei_threadpool_work(ei_threadpool *p, int index)
{
    if (!p || index < 1 || index >= p->threads) return;
    uint32_t seen = 0;
    for (;;) {
        uint32_t w;
        int spins = 0;
        while ((w = atomic_load_explicit(&p->wake, memory_order_acquire)) == seen) {
            if (++spins >= SPINS) {
                sleep_while(&p->wake, seen);
                spins = 0;
            }
        }
        seen = w;
        if (atomic_load_explicit(&p->quit, memory_order_acquire)) return;
        run_tasks(p, index);
    }
}

#ifndef __wasm__
struct worker_arg {
    ei_threadpool *p;
    int index;
};

static void *worker_main(void *arg)
{
    struct worker_arg *w = arg;
    ei_threadpool_work(w->p, w->index);
    return NULL;
}

static bool start_workers(ei_threadpool *p)
{
    p->tid = calloc((size_t)p->threads, sizeof *p->tid);
    p->args = calloc((size_t)p->threads, sizeof *p->args);
    if (!p->tid || !p->args) return false;
    for (p->started = 1; p->started < p->threads; p->started++) {
        p->args[p->started] = (struct worker_arg){p, p->started};
        if (pthread_create(&p->tid[p->started], NULL, worker_main, &p->args[p->started])) return false;
    }
    return true;
}
#endif
#else
void ei_threadpool_work(ei_threadpool *p, int index) { (void)p, (void)index; }
#endif /* NO_THREADS */

ei_status ei_threadpool_create(int threads, ei_threadpool **out)
{
    if (!out) return EI_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    if (threads < 1 || threads > EI_MAX_THREADS) return EI_STATUS_INVALID_ARGUMENT;
#ifdef NO_THREADS
    if (threads > 1) return EI_STATUS_UNSUPPORTED;
#endif
    ei_threadpool *p = calloc(1, sizeof *p);
    if (!p) return EI_STATUS_OUT_OF_MEMORY;
    p->threads = threads;
#if !defined(NO_THREADS) && !defined(__wasm__)
    if (!start_workers(p)) {
        ei_threadpool_free(p);
        return EI_STATUS_OUT_OF_MEMORY;
    }
#endif
    *out = p;
    return EI_STATUS_OK;
}

void ei_threadpool_free(ei_threadpool *p)
{
    if (!p) return;
#ifndef NO_THREADS
    atomic_store_explicit(&p->quit, 1, memory_order_release);
    atomic_fetch_add_explicit(&p->wake, 1, memory_order_release);
    wake_all(&p->wake);
#ifndef __wasm__
    for (int i = 1; i < p->started; i++) pthread_join(p->tid[i], NULL);
    free(p->tid);
    free(p->args);
#endif
#endif
    free(p);
}

int ei_threadpool_threads(const ei_threadpool *p) { return p ? p->threads : 1; }

void tp_run(ei_threadpool *p, size_t tasks, tp_task fn, void *arg)
{
#ifndef NO_THREADS
    if (p && p->threads > 1 && tasks > 1 && tasks < UINT32_MAX &&
        !atomic_exchange_explicit(&p->busy, 1, memory_order_acquire)) {
        /* Closed first (no index is below any task count), then the fields, then open. Without
         * the closing, a late thread that read the last job's exhausted state could read this
         * job's larger task count, win its swap on the unchanged state and run a task with the
         * last job's argument after that job's caller had moved on. */
        uint64_t gen = (atomic_load_explicit(&p->state, memory_order_relaxed) >> 32) + 1;
        atomic_store_explicit(&p->state, gen << 32 | UINT32_MAX, memory_order_relaxed);
        atomic_store_explicit(&p->tasks, (uint32_t)tasks, memory_order_release);
        atomic_store_explicit(&p->fn, fn, memory_order_release);
        atomic_store_explicit(&p->arg, arg, memory_order_release);
        atomic_store_explicit(&p->done, 0, memory_order_relaxed);
        atomic_store_explicit(&p->state, gen << 32, memory_order_release);
        atomic_fetch_add_explicit(&p->wake, 1, memory_order_release);
        wake_all(&p->wake);
        run_tasks(p, 0);
        while (atomic_load_explicit(&p->done, memory_order_acquire) < (uint32_t)tasks) {
        }
        atomic_store_explicit(&p->busy, 0, memory_order_release);
        return;
    }
#else
    (void)p;
#endif
    for (size_t i = 0; i < tasks; i++) fn(arg, i, 0);
}
