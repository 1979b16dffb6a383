/*
 * The native side of tools/bench/codecs.ts: times ggml's reference quantisers and dequantisers
 * (quantize_row_*_ref, dequantize_row_* in ggml/src/ggml-quants.c, linked from a ggml checkout the
 * bench is pointed at; ggml's code is not part of this repository) on one thread, and writes the
 * bytes each encoder made so the bench can check Chorus writes the same.
 *   ggml-codecs <input.f32> <outdir> <encode reps> <decode reps>
 * Prints one JSON object: per type, the best encode and decode time in seconds.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml.h"
#include "ggml-quants.h"

/* ggml-quants.c needs these from ggml.c; the row functions timed here never call them. */
void ggml_abort(const char * file, int line, const char * fmt, ...) {
    (void) fmt;
    fprintf(stderr, "ggml_abort at %s:%d\n", file, line);
    exit(1);
}
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void) type; (void) ne; abort(); }
const char * ggml_type_name(enum ggml_type type) { (void) type; return "?"; }
size_t ggml_type_size(enum ggml_type type) { (void) type; abort(); }

typedef void (*quantize_fn)(const float * x, void * y, int64_t k);
typedef void (*dequantize_fn)(const void * x, float * y, int64_t k);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void run(const char * dir, const char * name, quantize_fn q, dequantize_fn dq, const float * x, int64_t n, size_t bytes, int erep, int drep, int first) {
    void * y = calloc(1, bytes);
    float * back = malloc(n * sizeof(float));
    double enc = 1e30, dec = 1e30;
    /* One untimed pass each first: the output pages are mapped on first touch. */
    q(x, y, n);
    dq(y, back, n);
    for (int r = 0; r < erep; r++) {
        double t = now();
        q(x, y, n);
        t = now() - t;
        if (t < enc) enc = t;
    }
    for (int r = 0; r < drep; r++) {
        double t = now();
        dq(y, back, n);
        t = now() - t;
        if (t < dec) dec = t;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE * f = fopen(path, "wb");
    if (!f || fwrite(y, 1, bytes, f) != bytes) { perror(path); exit(1); }
    fclose(f);
    printf("%s\"%s\": {\"encodeSeconds\": %.6f, \"decodeSeconds\": %.6f}", first ? "" : ", ", name, enc, dec);
    free(y);
    free(back);
}

int main(int argc, char ** argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s input.f32 outdir encode-reps decode-reps\n", argv[0]); return 2; }
    FILE * f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    const int64_t n = ftell(f) / 4;
    fseek(f, 0, SEEK_SET);
    float * x = malloc(n * 4);
    if (fread(x, 4, n, f) != (size_t) n) { perror("read"); return 1; }
    fclose(f);
    const int er = atoi(argv[3]), dr = atoi(argv[4]);
    printf("{");
    run(argv[2], "Q8_0", (quantize_fn) quantize_row_q8_0_ref, (dequantize_fn) dequantize_row_q8_0, x, n, n / 32 * 34, er, dr, 1);
    run(argv[2], "Q4_K", (quantize_fn) quantize_row_q4_K_ref, (dequantize_fn) dequantize_row_q4_K, x, n, n / 256 * 144, er, dr, 0);
    run(argv[2], "Q5_K", (quantize_fn) quantize_row_q5_K_ref, (dequantize_fn) dequantize_row_q5_K, x, n, n / 256 * 176, er, dr, 0);
    run(argv[2], "Q6_K", (quantize_fn) quantize_row_q6_K_ref, (dequantize_fn) dequantize_row_q6_K, x, n, n / 256 * 210, er, dr, 0);
    printf("}\n");
    free(x);
    return 0;
}
