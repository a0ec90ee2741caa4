/* SPDX-License-Identifier: MIT */
#include "compress.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zstd.h>

#include "macro.h"

/*
 * Chunks go round a ring of slots in sequence order: the reader fills slot seq % n, a worker
 * compresses it, the writer writes it and frees it for the reader. Sequence numbers only grow,
 * so next_write <= next_compress <= next_fill <= next_write + n, and the state of a slot
 * follows from where its sequence number stands; each slot's state is kept all the same so
 * that every wait reads plainly.
 */
enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_COMPRESSING, SLOT_DONE };

struct slot {
        enum slot_state state;
        void *in;
        size_t len;
        void *out;
        size_t out_len;
};

struct worker {
        struct compressor *c;
        ZSTD_CCtx *cctx;
        pthread_t thread;
        bool started;
};

struct compressor {
        pthread_mutex_t lock;
        pthread_cond_t may_fill;     /* a slot was freed, or writing failed */
        pthread_cond_t may_compress; /* a slot was filled, or the end */
        pthread_cond_t may_write;    /* a slot was compressed, or the end */
        struct slot *slots;
        size_t n_slots;
        uint64_t next_fill, next_compress, next_write;
        bool finishing; /* no more chunks will come */
        bool stopping;  /* abandon everything */
        int error;      /* the first error, negative errno */
        struct compressor_params p;
        size_t out_cap;
        struct worker *workers;
        pthread_t writer;
        bool writer_started;
};

static void set_error(struct compressor *c, int r) {
        if (c->error == 0)
                c->error = r;
        pthread_cond_broadcast(&c->may_fill);
}

static void *worker_main(void *arg) {
        struct worker *w = arg;
        struct compressor *c = w->c;

        pthread_mutex_lock(&c->lock);
        for (;;) {
                while (!c->stopping && c->next_compress == c->next_fill && !c->finishing)
                        pthread_cond_wait(&c->may_compress, &c->lock);
                if (c->stopping || c->next_compress == c->next_fill)
                        break;
                struct slot *s = &c->slots[c->next_compress++ % c->n_slots];
                s->state = SLOT_COMPRESSING;
                pthread_mutex_unlock(&c->lock);

                size_t k = ZSTD_compress2(w->cctx, s->out, c->out_cap, s->in, s->len);

                pthread_mutex_lock(&c->lock);
                if (ZSTD_isError(k)) {
                        set_error(c, -EIO);
                        k = 0;
                }
                s->out_len = k;
                s->state = SLOT_DONE;
                pthread_cond_broadcast(&c->may_write);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

static void *writer_main(void *arg) {
        struct compressor *c = arg;

        pthread_mutex_lock(&c->lock);
        for (;;) {
                struct slot *s = &c->slots[c->next_write % c->n_slots];
                while (!c->stopping && s->state != SLOT_DONE && !(c->finishing && c->next_write == c->next_fill))
                        pthread_cond_wait(&c->may_write, &c->lock);
                if (c->stopping || s->state != SLOT_DONE)
                        break;
                bool failed = c->error != 0;
                pthread_mutex_unlock(&c->lock);

                /* After a failure the rest is only released, never written. */
                int r = failed ? 0 : c->p.write(c->p.userdata, s->out, s->out_len, s->len);

                pthread_mutex_lock(&c->lock);
                if (r < 0)
                        set_error(c, r);
                s->state = SLOT_FREE;
                c->next_write++;
                pthread_cond_broadcast(&c->may_fill);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

/* Ends the threads: after what was submitted (finish) or at once (stop). */
static void join_all(struct compressor *c, bool stop) {
        pthread_mutex_lock(&c->lock);
        c->finishing = true;
        if (stop)
                c->stopping = true;
        pthread_cond_broadcast(&c->may_compress);
        pthread_cond_broadcast(&c->may_write);
        pthread_mutex_unlock(&c->lock);
        for (int i = 0; c->workers && i < c->p.workers; i++)
                if (c->workers[i].started) {
                        pthread_join(c->workers[i].thread, NULL);
                        c->workers[i].started = false;
                }
        if (c->writer_started) {
                pthread_join(c->writer, NULL);
                c->writer_started = false;
        }
}

void compressor_free(struct compressor *c) {
        if (!c)
                return;
        join_all(c, true);
        /* Also after a failed compressor_new(): either array may be missing, and the slots'
         * buffers and contexts past the failure are NULL (freeing NULL is a no-op). */
        for (int i = 0; c->workers && i < c->p.workers; i++)
                ZSTD_freeCCtx(c->workers[i].cctx);
        for (size_t i = 0; c->slots && i < c->n_slots; i++) {
                free(c->slots[i].in);
                free(c->slots[i].out);
        }
        free(c->workers);
        free(c->slots);
        pthread_cond_destroy(&c->may_fill);
        pthread_cond_destroy(&c->may_compress);
        pthread_cond_destroy(&c->may_write);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

int compressor_new(const struct compressor_params *p, struct compressor **ret) {
        if (p->workers < 1 || p->chunk_size == 0)
                return -EINVAL;
        struct compressor *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->may_fill, NULL);
        pthread_cond_init(&c->may_compress, NULL);
        pthread_cond_init(&c->may_write, NULL);
        c->p = *p;
        c->out_cap = ZSTD_compressBound(p->chunk_size);
        /* One chunk being filled, one per worker, one being written. */
        c->n_slots = (size_t) p->workers + 2;
        c->slots = calloc(c->n_slots, sizeof(*c->slots));
        c->workers = calloc((size_t) p->workers, sizeof(*c->workers));
        int r = -ENOMEM;
        if (!c->slots || !c->workers)
                goto fail;
        for (size_t i = 0; i < c->n_slots; i++) {
                c->slots[i].in = malloc(p->chunk_size);
                c->slots[i].out = malloc(c->out_cap);
                if (!c->slots[i].in || !c->slots[i].out)
                        goto fail;
        }
        for (int i = 0; i < p->workers; i++) {
                struct worker *w = &c->workers[i];
                w->c = c;
                w->cctx = ZSTD_createCCtx();
                if (!w->cctx)
                        goto fail;
                if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, p->level)) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)) ||
                    (p->window_log > 0 &&
                     ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, p->window_log)))) {
                        r = -EINVAL;
                        goto fail;
                }
        }
        for (int i = 0; i < p->workers; i++) {
                r = -pthread_create(&c->workers[i].thread, NULL, worker_main, &c->workers[i]);
                if (r < 0)
                        goto fail;
                c->workers[i].started = true;
        }
        r = -pthread_create(&c->writer, NULL, writer_main, c);
        if (r < 0)
                goto fail;
        c->writer_started = true;
        *ret = c;
        return 0;
fail:
        compressor_free(c);
        return r;
}

void *compressor_buffer(struct compressor *c) {
        pthread_mutex_lock(&c->lock);
        struct slot *s = &c->slots[c->next_fill % c->n_slots];
        while (c->error == 0 && s->state != SLOT_FREE)
                pthread_cond_wait(&c->may_fill, &c->lock);
        void *buf = c->error == 0 ? s->in : NULL;
        pthread_mutex_unlock(&c->lock);
        return buf;
}

void compressor_submit(struct compressor *c, size_t len) {
        pthread_mutex_lock(&c->lock);
        struct slot *s = &c->slots[c->next_fill % c->n_slots];
        s->len = len;
        s->state = SLOT_FILLED;
        c->next_fill++;
        pthread_cond_signal(&c->may_compress);
        pthread_mutex_unlock(&c->lock);
}

int compressor_finish(struct compressor *c) {
        join_all(c, false);
        return c->error;
}
