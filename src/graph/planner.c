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
 *    conflicting buffers by offset and take the first gap that is large enough. The placed
 *    buffers are kept sorted by offset as they are placed, so this is one walk per buffer.
 *  - The arena size is the highest end offset. In-place ops never reach this
 *    file as two buffers: the session merges them into one longer-lived buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* The sort key travels with the index, so the comparator reads no shared state (sessions may
 * be created on several threads at once). */
typedef struct order_key {
    size_t size;
    int first, index;
} order_key;

static int by_size_desc(const order_key *x, const order_key *y)
{
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->index - y->index;
}

static void sift_down(order_key *a, int i, int n)
{
    for (int c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && by_size_desc(&a[c], &a[c + 1]) < 0) c++;
        if (by_size_desc(&a[i], &a[c]) >= 0) return;
        order_key t = a[i];
        a[i] = a[c];
        a[c] = t;
    }
}

/* Heapsort by by_size_desc, a total order (the index breaks ties), so that any correct sort
 * gives the same plan: the C library's qsort is 1 KB of the wasm build. */
static void sort_keys(order_key *a, int n)
{
    for (int i = n / 2; i-- > 0;) sift_down(a, i, n);
    for (int k = n - 1; k > 0; k--) {
        order_key t = a[0];
        a[0] = a[k];
        a[k] = t;
        sift_down(a, 0, k);
    }
}

/* Inserts buffer index k into placed[0..n) kept sorted by offset. */
static void insert_by_offset(const plan_buf *bufs, int *placed, int n, int k)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (bufs[placed[mid]].offset <= bufs[k].offset) lo = mid + 1;
        else hi = mid;
    }
    memmove(placed + lo + 1, placed + lo, (size_t)(n - lo) * sizeof *placed);
    placed[lo] = k;
}

size_t plan_place(plan_buf *bufs, int n)
{
    if (n <= 0) return 0;
    order_key *order = malloc((size_t)n * sizeof *order);
    int *placed = malloc((size_t)n * sizeof *placed); /* placed buffers, by offset */
    if (!order || !placed) {
        free(order);
        free(placed);
        return SIZE_MAX;
    }
    for (int i = 0; i < n; i++) order[i] = (order_key){bufs[i].size, bufs[i].first, i};
    sort_keys(order, n);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        plan_buf *b = &bufs[order[k].index];
        size_t off = 0;
        /* Walk the placed buffers by offset; only those whose lifetime overlaps b's are in the way. */
        for (int j = 0; j < k; j++) {
            const plan_buf *o = &bufs[placed[j]];
            if (o->first > b->last || b->first > o->last) continue;
            if (off + b->size <= o->offset) break;
            size_t end = o->offset + o->size;
            if (end > off) off = end;
        }
        if (b->size > SIZE_MAX - off) { /* cannot be placed in this address space */
            free(order);
            free(placed);
            return SIZE_MAX;
        }
        b->offset = off;
        if (off + b->size > total) total = off + b->size;
        insert_by_offset(bufs, placed, k, order[k].index);
    }
    free(order);
    free(placed);
    return total;
}
