/*
 * Splitting a node's work across the threads of an ei_threadpool (threadpool.c).
 * An op cuts its work into independent tasks and calls tp_run; each task gets
 * the index of the thread running it, in [0, threads), so that it can use its
 * own share of the node's scratch memory.
 */
#ifndef EI_THREADPOOL_H
#define EI_THREADPOOL_H

#include <stddef.h>

#include "edgeinfer.h"

typedef void (*tp_task)(void *arg, size_t task, int thread);

/* Runs fn(arg, i, thread) for every i in [0, tasks) on the pool's threads (on the calling thread
 * alone when p is NULL, has one thread, or is busy with another job) and returns when all are done. */
void tp_run(ei_threadpool *p, size_t tasks, tp_task fn, void *arg);

#endif
