/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * 64-byte bit masks of one byte value, for the scanner and the encoder:
 * bit j is set when p[j] == c.  Both walk bodies a block at a time and
 * look only at the few bytes that matter (LF, CR, a '.' at a line start)
 * instead of calling memchr() once a line.
 *
 * SSE2 is the x86-64 baseline; AVX2 (with POPCNT) is what most machines
 * in service have, so a caller may build a second copy of its loop with
 * SIMD_FAST and pick it at run time with simd_fast().  Elsewhere a plain
 * loop gives the same masks.
 */
#ifndef POPA3D_MBOX_SIMD_H
#define POPA3D_MBOX_SIMD_H

#include <stdint.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

#define SIMD_INLINE static inline __attribute__((always_inline))

SIMD_INLINE uint64_t simd_eq64(const unsigned char *p, unsigned char c)
{
#ifdef __SSE2__
	const __m128i v = _mm_set1_epi8((char)c);
	uint64_t m = 0;

	m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_loadu_si128((const __m128i *)(const void *)p), v));
	m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), v)) << 16;
	m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), v)) << 32;
	m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), v)) << 48;
	return m;
#else
	uint64_t m = 0;

	for (int j = 0; j < 64; j++)
		m |= (uint64_t)(p[j] == c) << j;
	return m;
#endif
}

/* Bits set in x, inline (the builtin is a libgcc call without -mpopcnt). */
SIMD_INLINE uint64_t simd_popcount(uint64_t x)
{
	x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
	x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (x * UINT64_C(0x0101010101010101)) >> 56;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SIMD_HAVE_FAST 1
#define SIMD_FAST __attribute__((target("avx2,popcnt")))

SIMD_INLINE SIMD_FAST uint64_t simd_eq64_fast(const unsigned char *p, unsigned char c)
{
	const __m256i v = _mm256_set1_epi8((char)c);

	return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
		_mm256_loadu_si256((const __m256i *)(const void *)p), v)) |
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
		_mm256_loadu_si256((const __m256i *)(const void *)(p + 32)), v)) << 32;
}

SIMD_INLINE SIMD_FAST uint64_t simd_popcount_fast(uint64_t x)
{
	return (uint64_t)__builtin_popcountll(x);
}

/*
 * May the SIMD_FAST copies run?  -1 asks the CPU once; tests set 0 to
 * run the portable loops on the same input (tests/fuzz/fuzz-mbox.c).
 */
extern int mbox_simd_fast;

SIMD_INLINE int simd_fast(void)
{
	if (mbox_simd_fast < 0)
		mbox_simd_fast = __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("popcnt");
	return mbox_simd_fast;
}
#else
#define SIMD_HAVE_FAST 0
extern int mbox_simd_fast;
#endif

#endif
