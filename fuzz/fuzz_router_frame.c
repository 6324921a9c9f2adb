/*
 * libFuzzer target: the router's inbound frames (router/frame.c), what one
 * router receives from another through the untrusted broker.
 *
 * First byte even: the rest is a frame as received, from peer B to us A:
 * header parsed, then signature and body opened with B's key.  Odd: the
 * rest is a plaintext that B seals (bit 1: sealed) and signs properly, so
 * the opening is reached; it must open to the same bytes, and any one
 * byte flipped (the position from the input) must be refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../router/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rt_ident a, b;
static struct rt_peerkey b_at_a, a_at_b;
static uint8_t frame[RT_FRAME_MAX], pt[RT_FRAME_MAX];

static void
setup(void)
{
	static const uint8_t sa[32] = "mobius-fuzz-router-a-seed-32byte";
	static const uint8_t sb[32] = "mobius-fuzz-router-b-seed-32byte";

	if (sodium_init() < 0 || rt_ident_from_seed("000001", sa, &a) != 0 ||
	    rt_ident_from_seed("000002", sb, &b) != 0)
		abort();
	memcpy(b_at_a.pk, b.pk, sizeof(b.pk));
	memcpy(b_at_a.kid, b.kid, sizeof(b.kid));
	memcpy(a_at_b.pk, a.pk, sizeof(a.pk));
	memcpy(a_at_b.kid, a.kid, sizeof(a.kid));
	if (rt_pair_key(&a, b.pk, b_at_a.pair) != 0 ||
	    rt_pair_key(&b, a.pk, a_at_b.pair) != 0)
		abort();
}

/* What router.c does with a frame: header, then signature and body. */
static int
receive(const uint8_t *buf, size_t len, size_t *ptlen)
{
	struct rt_hdr h;
	int r;

	if ((r = rt_frame_header(buf, len, &h)) != 0)
		return r;
	return rt_frame_open(&b_at_a, buf, len, pt, sizeof(pt), ptlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_hdr h;
	size_t len, ptlen, at;
	int mode;

	if (a.hid[0] == '\0')
		setup();
	if (size < 1 || size > RT_FRAME_MAX)
		return 0;
	mode = data[0];
	data++, size--;
	if (mode % 2 == 0) {
		(void)receive(data, size, &ptlen);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.version = RT_FRAME_VERSION;
	h.flags = mode & 2 ? RT_FLAG_SEALED : 0;
	h.cls = RT_CLASS_DATA;
	memcpy(h.kid_from, b.kid, RT_KID_LEN);
	memcpy(h.kid_to, a.kid, RT_KID_LEN);
	memcpy(h.from, "000002", 7);
	memcpy(h.to, "000001", 7);
	h.seq = size;
	h.ts = 1700000000000LL;
	if (rt_frame_make(&b, &a_at_b, &h, data, size, frame, sizeof(frame),
	    &len) != 0)
		return 0;	/* too long */
	if (receive(frame, len, &ptlen) != 0 || ptlen != size ||
	    memcmp(pt, data, size) != 0)
		abort();
	at = (size_t)(mode >> 2) * 131 % len;
	frame[at] ^= 0x01;
	if (receive(frame, len, &ptlen) == 0)
		abort();
	return 0;
}
