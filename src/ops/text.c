/*
 * Text ops: TfIdfVectorizer (opset 9) over integer token ids.
 *
 * The pool attribute lists n-grams level by level: ngram_counts[k] is the pool
 * position where the (k+1)-grams start, and they run to the next level's start
 * (or the pool's end). Every n-gram of the pool has an ordinal in pool order,
 * counting all levels, and ngram_indexes[ordinal] is its output column; only
 * the levels from min_gram_length to max_gram_length are looked for.
 *
 * Each input row ([C], or each row of [N, C]) is scanned once per skip count
 * s in 0..max_skip_count: the n-gram starting at p is the items p, p+d, p+2d ...
 * with d = s + 1. Unigrams do not depend on the skip, so they are counted in
 * the first scan only. The counts then become the output by the mode: TF the
 * counts, IDF the weight (1 by default) where the count is not 0, TFIDF count
 * times weight. Weights are taken per output column, as the reference
 * implementations do (the spec's "weight of the i-th n-gram" is the same thing
 * when ngram_indexes is the identity, the common case).
 *
 * Pool n-grams go into an open-addressing hash table built once at plan time
 * (in scratch instead, rebuilt per run, when the session plans every run).
 * String pools and string inputs are not supported.
 */
#include "op.h"

enum { TFIDF_TF, TFIDF_IDF, TFIDF_TFIDF };

typedef struct tfidf_args {
    int mode;
    int64_t min_n, max_n, max_skip;
    int n_counts, n_idx, n_pool, n_w;
    const int64_t *counts; /* [n_counts] level starts in pool */
    const int64_t *idx;    /* [n_idx] output column of each pool n-gram */
    const int64_t *pool;   /* [n_pool] */
    const float *w;        /* [n_w] weight per output column, n_w == 0: all 1 */
    int64_t out_size;      /* columns: max(ngram_indexes) + 1 */
    int64_t n_grams;       /* pool n-grams in the looked-for levels */
    int64_t top_n;         /* largest n with a looked-for level, 0 when none */
    int64_t slots;         /* hash table size (a power of two), 0 when nothing is looked for */
} tfidf_args;

/* A pool n-gram in the hash table. */
typedef struct gram_slot {
    int64_t off; /* pool position of its first item, -1 for an empty slot */
    int64_t n;   /* its length */
    int64_t col; /* its output column */
} gram_slot;

static ei_status int_attr(op_ctx *ctx, const char *name, int64_t *v)
{
    const attr *a = attr_find(ctx->n, name);
    CHECK(ctx, a && a->type == ATTR_INT, "attribute '%s' (an int) is required", name);
    *v = a->i;
    return EI_STATUS_OK;
}

/* Validates the attributes; everything run needs comes from them, so infer and run both call this. */
static ei_status parse_tfidf(op_ctx *ctx, tfidf_args *a)
{
    const node *nd = ctx->n;
    memset(a, 0, sizeof *a);
    const char *mode = attr_str(nd, "mode", NULL);
    CHECK(ctx, mode, "attribute 'mode' is required");
    if (!strcmp(mode, "TF")) a->mode = TFIDF_TF;
    else if (!strcmp(mode, "IDF")) a->mode = TFIDF_IDF;
    else if (!strcmp(mode, "TFIDF")) a->mode = TFIDF_TFIDF;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "mode '%s' is not one of TF, IDF, TFIDF", mode);
    TRY(int_attr(ctx, "min_gram_length", &a->min_n));
    TRY(int_attr(ctx, "max_gram_length", &a->max_n));
    TRY(int_attr(ctx, "max_skip_count", &a->max_skip));
    CHECK(ctx, a->min_n >= 1 && a->min_n <= a->max_n,
          "min_gram_length %lld and max_gram_length %lld must satisfy 1 <= min <= max", (long long)a->min_n,
          (long long)a->max_n);
    CHECK(ctx, a->max_skip >= 0, "max_skip_count is %lld, expected >= 0", (long long)a->max_skip);

    CHECK_SUPPORTED(ctx, !attr_find(nd, "pool_strings"),
                    "string pools (pool_strings) are not supported, only integer ones (pool_int64s)");
    a->n_pool = attr_ints(nd, "pool_int64s", &a->pool);
    CHECK(ctx, a->n_pool >= 0, "attribute 'pool_int64s' is required");
    a->n_counts = attr_ints(nd, "ngram_counts", &a->counts);
    CHECK(ctx, a->n_counts >= 0, "attribute 'ngram_counts' is required");
    a->n_idx = attr_ints(nd, "ngram_indexes", &a->idx);
    CHECK(ctx, a->n_idx > 0, "attribute 'ngram_indexes' is required and may not be empty");
    a->n_w = attr_floats(nd, "weights", &a->w);
    if (a->n_w < 0) a->n_w = 0;

    int64_t top = -1;
    for (int i = 0; i < a->n_idx; i++) {
        CHECK(ctx, a->idx[i] >= 0, "ngram_indexes[%d] is %lld, expected >= 0", i, (long long)a->idx[i]);
        /* Each column costs a float of output and a count of scratch, even when there are no rows. */
        CHECK_SUPPORTED(ctx, a->idx[i] < EI_MAX_TENSOR_BYTES / (int64_t)sizeof(int64_t),
                        "ngram_indexes[%d] is %lld: that many output columns is more than supported", i,
                        (long long)a->idx[i]);
        if (a->idx[i] > top) top = a->idx[i];
    }
    a->out_size = top + 1;
    CHECK_SUPPORTED(ctx, a->n_w == 0 || a->n_w >= a->out_size,
                    "weights has %d values but there are %lld output columns (max of ngram_indexes + 1): weights "
                    "are read per output column",
                    a->n_w, (long long)a->out_size);

    int64_t ordinal = 0;
    for (int k = 0; k < a->n_counts; k++) {
        int64_t n = k + 1, start = a->counts[k], end = k + 1 < a->n_counts ? a->counts[k + 1] : a->n_pool;
        CHECK(ctx, start >= 0 && start <= end && end <= a->n_pool,
              "ngram_counts[%d] = %lld: the %lld-grams would span pool items [%lld, %lld) of %d", k,
              (long long)start, (long long)n, (long long)start, (long long)end, a->n_pool);
        CHECK(ctx, (end - start) % n == 0, "the %lld-grams span %lld pool items, not a multiple of %lld",
              (long long)n, (long long)(end - start), (long long)n);
        int64_t grams = (end - start) / n;
        if (n >= a->min_n && n <= a->max_n && grams > 0) {
            CHECK(ctx, ordinal + grams <= a->n_idx,
                  "ngram_indexes has %d values but the pool has at least %lld n-grams", a->n_idx,
                  (long long)(ordinal + grams));
            a->n_grams += grams;
            a->top_n = n;
        }
        ordinal += grams;
    }
    if (a->n_grams) {
        /* At most half full, so probes stay short. n_grams <= n_pool < 2^31: no overflow. */
        int64_t slots = 16;
        while (slots < 2 * a->n_grams) slots *= 2;
        a->slots = slots;
        CHECK_SUPPORTED(ctx, slots * (int64_t)sizeof(gram_slot) <= EI_MAX_TENSOR_BYTES,
                        "the pool's %lld n-grams need a %lld-byte table, more than supported", (long long)a->n_grams,
                        (long long)(slots * (int64_t)sizeof(gram_slot)));
    }
    return EI_STATUS_OK;
}

static inline int64_t item(const void *row, bool i64, int64_t k)
{
    return i64 ? ((const int64_t *)row)[k] : ((const int32_t *)row)[k];
}

/* Hash of an n-gram: fold its items one by one, so that a scan extends an (n-1)-gram's hash. */
static inline uint64_t hash_step(uint64_t h, int64_t v)
{
    h = (h ^ (uint64_t)v) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}
#define HASH_SEED 0x243F6A8885A308D3ull

static inline uint64_t hash_slot(uint64_t h, int64_t n, int64_t slots)
{
    h = (h + (uint64_t)n) * 0xBF58476D1CE4E5B9ull;
    return (h ^ (h >> 31)) & (uint64_t)(slots - 1);
}

/* Fills tab [a->slots] with the looked-for pool n-grams. A repeated n-gram keeps its last column. */
static void build_table(const tfidf_args *a, gram_slot *tab)
{
    for (int64_t s = 0; s < a->slots; s++) tab[s].off = -1;
    int64_t ordinal = 0;
    for (int k = 0; k < a->n_counts; k++) {
        int64_t n = k + 1, start = a->counts[k], end = k + 1 < a->n_counts ? a->counts[k + 1] : a->n_pool;
        int64_t grams = (end - start) / n;
        if (n < a->min_n || n > a->max_n) {
            ordinal += grams;
            continue;
        }
        for (int64_t j = 0; j < grams; j++, ordinal++) {
            const int64_t *g = a->pool + start + j * n;
            uint64_t h = HASH_SEED;
            for (int64_t m = 0; m < n; m++) h = hash_step(h, g[m]);
            uint64_t s = hash_slot(h, n, a->slots);
            while (tab[s].off >= 0 &&
                   !(tab[s].n == n && !memcmp(a->pool + tab[s].off, g, (size_t)n * sizeof *g)))
                s = (s + 1) & (uint64_t)(a->slots - 1);
            tab[s].off = start + j * n;
            tab[s].n = n;
            tab[s].col = a->idx[ordinal];
        }
    }
}

/* Output column of the n-gram row[p], row[p+d], ... with hash h, or -1 when the pool lacks it. */
static int64_t find_gram(const tfidf_args *a, const gram_slot *tab, const void *row, bool i64, int64_t p,
                         int64_t d, int64_t n, uint64_t h)
{
    for (uint64_t s = hash_slot(h, n, a->slots);; s = (s + 1) & (uint64_t)(a->slots - 1)) {
        const gram_slot *e = &tab[s];
        if (e->off < 0) return -1;
        if (e->n != n) continue;
        int64_t m = 0;
        while (m < n && a->pool[e->off + m] == item(row, i64, p + m * d)) m++;
        if (m == n) return e->col;
    }
}

/* Adds to cnt [out_size] the occurrences of pool n-grams in row [c]. */
static void count_row(const tfidf_args *a, const gram_slot *tab, const void *row, bool i64, int64_t c,
                      int64_t *cnt)
{
    /* With a skip of c - 1 or more no 2-gram fits, and unigrams count at skip 0 only. */
    int64_t max_skip = a->max_skip < c - 1 ? a->max_skip : c - 1;
    for (int64_t s = 0; s <= max_skip; s++) {
        int64_t d = s + 1, lo = s > 0 && a->min_n < 2 ? 2 : a->min_n;
        if (lo > a->top_n) break;
        for (int64_t p = 0; p < c; p++) {
            uint64_t h = HASH_SEED;
            for (int64_t n = 1; n <= a->top_n && p + (n - 1) * d < c; n++) {
                h = hash_step(h, item(row, i64, p + (n - 1) * d));
                if (n < lo) continue;
                int64_t col = find_gram(a, tab, row, i64, p, d, n, h);
                if (col >= 0) cnt[col]++;
            }
        }
    }
}

static size_t table_bytes(const tfidf_args *a) { return (size_t)a->slots * sizeof(gram_slot); }

static ei_status tfidf_infer(op_ctx *ctx)
{
    static const int32_t int_types[] = {EI_DTYPE_INT32, EI_DTYPE_INT64, 0};
    TRY(check_arity(ctx, 1, 1, 1));
    const ei_tensor *x = ctx->in[0];
    CHECK_SUPPORTED(ctx, x->dtype != EI_DTYPE_STRING, "string input X is not supported, only int32 and int64 ids");
    TRY(check_dtype(ctx, 0, int_types));
    tfidf_args a;
    TRY(parse_tfidf(ctx, &a));
    CHECK_SHAPE(ctx, x->rank <= 2, "input X %s has rank %d, expected [C] or [N, C]", shape_str(x), x->rank);

    int64_t dims[2] = {x->rank == 2 ? x->dims[0] : a.out_size, a.out_size};
    TRY(set_output(ctx, 0, EI_DTYPE_FLOAT32, x->rank == 2 ? 2 : 1, dims));

    /* One row of counts; the table too when prepare will not build it (sessions planned per run). */
    int64_t bytes = a.out_size * (int64_t)sizeof(int64_t);
    if (!ctx->at_plan) bytes += (int64_t)table_bytes(&a);
    CHECK_SUPPORTED(ctx, bytes <= EI_MAX_TENSOR_BYTES, "needs %lld bytes of working memory, more than supported",
                    (long long)bytes);
    ctx->scratch_bytes = (size_t)bytes;
    return EI_STATUS_OK;
}

static ei_status tfidf_prepare(op_ctx *ctx)
{
    ctx->state = NULL;
    if (!ctx->at_plan) return EI_STATUS_OK;
    tfidf_args a;
    TRY(parse_tfidf(ctx, &a));
    if (!a.slots) return EI_STATUS_OK;
    gram_slot *tab = op_alloc(ctx, table_bytes(&a));
    if (!tab)
        return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory for the n-gram table (%lld slots)",
                       (long long)a.slots);
    build_table(&a, tab);
    ctx->state = tab;
    return EI_STATUS_OK;
}

static ei_status tfidf_run(op_ctx *ctx)
{
    tfidf_args a;
    TRY(parse_tfidf(ctx, &a));
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    bool i64 = x->dtype == EI_DTYPE_INT64;
    int64_t rows = x->rank == 2 ? x->dims[0] : 1;
    int64_t c = x->rank == 0 ? 1 : x->dims[x->rank - 1];
    int64_t cols = a.out_size;
    int64_t *cnt = ctx->scratch;
    const gram_slot *tab = ctx->state;
    if (a.slots && !tab) {
        gram_slot *t = (gram_slot *)((char *)ctx->scratch + (size_t)cols * sizeof(int64_t));
        build_table(&a, t);
        tab = t;
    }

    float *out = y->data;
    size_t esize = x->dtype == EI_DTYPE_INT64 ? sizeof(int64_t) : sizeof(int32_t);
    for (int64_t r = 0; r < rows; r++) {
        memset(cnt, 0, (size_t)cols * sizeof *cnt);
        if (tab) count_row(&a, tab, (const char *)x->data + (size_t)(r * c) * esize, i64, c, cnt);
        float *o = out + r * cols;
        for (int64_t j = 0; j < cols; j++) {
            double w = a.n_w ? a.w[j] : 1.0;
            switch (a.mode) {
            case TFIDF_TF: o[j] = (float)cnt[j]; break;
            case TFIDF_IDF: o[j] = cnt[j] > 0 ? (float)w : 0.0f; break;
            default: o[j] = (float)((double)cnt[j] * w); break;
            }
        }
    }
    return EI_STATUS_OK;
}

const op_def text_ops[] = {
    {"TfIdfVectorizer", "", 9, tfidf_infer, tfidf_prepare, tfidf_run, 0},
};
const int text_ops_count = sizeof text_ops / sizeof text_ops[0];
