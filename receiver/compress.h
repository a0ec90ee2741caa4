/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Parallel zstd of a stream, as a sequence of independent frames (one per chunk), written in
 * order. The caller fills chunk buffers straight from its input (no copy into the compressor),
 * worker threads compress them, and a writer thread appends the frames to the output file, so
 * the reading thread does nothing but read. Concatenated frames are one valid zstd stream:
 * `zstd -d`, libzstd's streaming decoder and coredumpctl read it as a whole.
 *
 * Memory is fixed: (workers + 2) chunks, each with room for its worst-case frame, and one
 * compression context per worker, whatever the size of the stream.
 */

#include <stddef.h>
#include <stdint.h>

struct compressor;

/*
 * Called by the writer thread with each frame, in order (in_len: the uncompressed bytes it
 * holds): 0, or a negative errno that ends it. After an error no further frame is written.
 */
typedef int (*compressor_write_fn)(void *userdata, const void *frame, size_t len, size_t in_len);

struct compressor_params {
        int level;         /* zstd level */
        int workers;       /* compressing threads, at least 1 */
        size_t chunk_size; /* uncompressed bytes per frame */
        int window_log;    /* zstd's window (log2 bytes), 0 for zstd's choice; never more than a frame needs */
        compressor_write_fn write;
        void *userdata;
};

/* Starts the threads: 0, -EINVAL for bad parameters, -ENOMEM, or pthread_create()'s error.
 * On failure nothing is left allocated or running. */
int compressor_new(const struct compressor_params *p, struct compressor **ret);

/*
 * The next chunk buffer to fill (chunk_size bytes), waiting while all of them are in use.
 * NULL once writing has failed: compressor_finish() then tells why.
 */
void *compressor_buffer(struct compressor *c);

/* Hands the buffer from compressor_buffer() over, holding len bytes (1..chunk_size). */
void compressor_submit(struct compressor *c, size_t len);

/* Waits until every submitted chunk is written; the first error, or 0. */
int compressor_finish(struct compressor *c);

/* Stops the threads (abandoning what is not written yet) and frees everything. */
void compressor_free(struct compressor *c);
