/*
 * The activation memory planner. All activations of a run live in one arena
 * whose offsets are fixed before the first run, so a run never allocates.
 *
 * How it places buffers (tflite-micro's greedy planner, XNNPACK's memory planner):
 *  - Each buffer has a size and a lifetime [first, last] in execution steps:
 *    it is written at `first` and last read at `last`. Two buffers conflict
 *    only when their lifetimes overlap.
 *  - Buffers are placed largest first (ties: earlier first), because big
 *    buffers are the hardest to fit into gaps later.
 *  - Each buffer goes at the lowest offset where it overlaps in memory with no
 *    already-placed buffer whose lifetime overlaps its own: scan those
 *    conflicting buffers by offset and take the first gap that is large enough.
 *  - The arena size is the highest end offset. In-place ops never reach this
 *    file as two buffers: the session merges them into one longer-lived buffer.
 */
#include <stdint.h>
#include <stdlib.h>

#include "graph.h"

static const plan_buf *sort_base;

static int by_size_desc(const void *a, const void *b)
{
    const plan_buf *x = &sort_base[*(const int *)a], *y = &sort_base[*(const int *)b];
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static int by_offset(const void *a, const void *b)
{
    const plan_buf *x = *(plan_buf *const *)a, *y = *(plan_buf *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

size_t plan_place(plan_buf *bufs, int n)
{
    if (n <= 0) return 0;
    int *order = malloc((size_t)n * sizeof(int));
    plan_buf **live = malloc((size_t)n * sizeof(plan_buf *));
    if (!order || !live) {
        free(order);
        free(live);
        return SIZE_MAX;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    sort_base = bufs;
    qsort(order, (size_t)n, sizeof(int), by_size_desc);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        plan_buf *b = &bufs[order[k]];
        int nl = 0;
        for (int j = 0; j < k; j++) {
            plan_buf *o = &bufs[order[j]];
            if (o->first <= b->last && b->first <= o->last) live[nl++] = o;
        }
        qsort(live, (size_t)nl, sizeof(plan_buf *), by_offset);
        size_t off = 0;
        for (int j = 0; j < nl; j++) {
            if (off + b->size <= live[j]->offset) break;
            size_t end = live[j]->offset + live[j]->size;
            if (end > off) off = end;
        }
        if (b->size > SIZE_MAX - off) { /* cannot be placed in this address space */
            free(order);
            free(live);
            return SIZE_MAX;
        }
        b->offset = off;
        if (off + b->size > total) total = off + b->size;
    }
    free(order);
    free(live);
    return total;
}
