/*
 * The router's external frame (router/frame.c, docs/protocol.md §6): the
 * test vectors of the document, and every way a frame can be refused.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "mobius/err.h"
#include "../router/internal.h"

/* docs/protocol.md §6.6: seeds 00 01 .. 1f (node 000001), 80 81 .. 9f (000002) */
#define PK_A	"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
#define KID_A	"56475aa75463474c"
#define PK_B	"cd14b37f956e953194ff7fb73b3d81dcc561d61a7538094b7c3e1a643ee5f3aa"
#define KID_B	"519cae93e93ad011"
#define PAIR	"5d92096ff8db9da31676fb101546e86c33a302f47cb80df23b84b980ad1c5758"
#define PT	"{\"t\":\"mob/cov/000001/010/0101/0001/40\",\"d\":{\"v\":21.5}}"
#define CLEAR	"0100010056475aa75463474c519cae93e93ad011000001000002000661ff88cdb000" \
	"000001a24db46e007b2274223a226d6f622f636f762f3030303030312f3031302f3031" \
	"30312f303030312f3430222c2264223a7b2276223a32312e357d7dbb3113650f2e8c15" \
	"067f39467d010aea3291be37b5cda27517f430c85ec4115da4910e9895b8c2d134a395" \
	"44dd0889d5362459791cd6398b28efa5d21011b503"
#define SEALED	"0101010056475aa75463474c519cae93e93ad011000001000002000661ff88cdb00" \
	"0000001a24db46e0005fa715667030ac98d929bb6524deb31b4b58278fa49bc587e896c" \
	"3177230f0e6dcaca2b54003f6d2038a9106cd930427314c66ffe8a575d02c526cf62ce" \
	"13590edffb65c3769a59250bdc147d2ae825d160664d5aaff27490240102c189c77986" \
	"3af6d126f3862df2e7ca1d6987bd332ef0f92f288b164b5b303afe3f1db396c58f64c2" \
	"87d69ea0fe93491a804a95f7ecffe78458fddc517a69e1f0e706"

static struct rt_ident a, b;
static struct rt_peerkey a_sees_b, b_sees_a;

static void
unhex(const char *h, uint8_t *out, size_t *len)
{
	cr_assert_eq(sodium_hex2bin(out, 4096, h, strlen(h), NULL, len, NULL), 0);
}

static void
tohex(const uint8_t *bin, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, bin, n);
}

static void
setup(void)
{
	uint8_t sa[32], sb[32];

	cr_assert_geq(sodium_init(), 0);
	for (int i = 0; i < 32; i++) {
		sa[i] = (uint8_t)i;
		sb[i] = (uint8_t)(0x80 + i);
	}
	cr_assert_eq(rt_ident_from_seed("000001", sa, &a), 0);
	cr_assert_eq(rt_ident_from_seed("000002", sb, &b), 0);
	memcpy(a_sees_b.pk, b.pk, 32);
	memcpy(a_sees_b.kid, b.kid, RT_KID_LEN);
	cr_assert_eq(rt_pair_key(&a, b.pk, a_sees_b.pair), 0);
	memcpy(b_sees_a.pk, a.pk, 32);
	memcpy(b_sees_a.kid, a.kid, RT_KID_LEN);
	cr_assert_eq(rt_pair_key(&b, a.pk, b_sees_a.pair), 0);
}

static void
hdr(struct rt_hdr *h, int sealed)
{
	memset(h, 0, sizeof(*h));
	h->version = RT_FRAME_VERSION;
	h->flags = sealed ? RT_FLAG_SEALED : 0;
	h->cls = RT_CLASS_DATA;
	memcpy(h->kid_from, a.kid, RT_KID_LEN);
	memcpy(h->kid_to, b.kid, RT_KID_LEN);
	strcpy(h->from, "000001");
	strcpy(h->to, "000002");
	h->seq = 1796600000000000ULL;
	h->ts = 1796600000000LL;
}

TestSuite(router_frame, .init = setup);

Test(router_frame, keys_and_pair_key_match_the_documented_vectors)
{
	char s[80];

	tohex(a.pk, 32, s);
	cr_assert_str_eq(s, PK_A);
	tohex(a.kid, 8, s);
	cr_assert_str_eq(s, KID_A);
	tohex(b.pk, 32, s);
	cr_assert_str_eq(s, PK_B);
	tohex(b.kid, 8, s);
	cr_assert_str_eq(s, KID_B);
	/* both ends derive the same key */
	tohex(a_sees_b.pair, 32, s);
	cr_assert_str_eq(s, PAIR);
	tohex(b_sees_a.pair, 32, s);
	cr_assert_str_eq(s, PAIR);
}

Test(router_frame, clear_frame_is_the_documented_vector)
{
	static uint8_t out[1024];
	static char s[2100];
	struct rt_hdr h;
	size_t len;

	hdr(&h, 0);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, (const uint8_t *)PT,
	    strlen(PT), out, sizeof(out), &len), 0);
	tohex(out, len, s);
	cr_assert_str_eq(s, CLEAR);
}

Test(router_frame, documented_vectors_open)
{
	static uint8_t buf[1024], pt[1024];
	struct rt_hdr h;
	size_t len, ptlen;

	unhex(SEALED, buf, &len);
	cr_assert_eq(rt_frame_header(buf, len, &h), 0);
	cr_assert_str_eq(h.from, "000001");
	cr_assert_str_eq(h.to, "000002");
	cr_assert_eq(h.seq, 1796600000000000ULL);
	cr_assert_eq(h.flags, RT_FLAG_SEALED);
	cr_assert_eq(rt_frame_open(&b_sees_a, buf, len, pt, sizeof(pt), &ptlen), 0);
	cr_assert_eq(ptlen, strlen(PT));
	cr_assert_eq(memcmp(pt, PT, ptlen), 0);
	unhex(CLEAR, buf, &len);
	cr_assert_eq(rt_frame_open(&b_sees_a, buf, len, pt, sizeof(pt), &ptlen), 0);
	cr_assert_eq(memcmp(pt, PT, ptlen), 0);
}

Test(router_frame, sealed_body_hides_the_plaintext)
{
	static uint8_t out[1024];
	struct rt_hdr h;
	size_t len;

	hdr(&h, 1);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, (const uint8_t *)PT,
	    strlen(PT), out, sizeof(out), &len), 0);
	cr_assert_eq(len, RT_HDR_LEN + RT_NONCE_LEN + strlen(PT) + RT_TAG_LEN + RT_SIG_LEN);
	cr_assert_null(memmem(out, len, "mob/cov", 7));
	cr_assert_null(memmem(out, len, "21.5", 4));
}

Test(router_frame, any_flipped_bit_is_refused)
{
	static uint8_t out[1024], pt[1024];
	struct rt_hdr h;
	size_t len, ptlen;

	hdr(&h, 1);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, (const uint8_t *)PT,
	    strlen(PT), out, sizeof(out), &len), 0);
	for (size_t i = 0; i < len; i++) {
		int r;

		out[i] ^= 0x10;
		r = rt_frame_open(&b_sees_a, out, len, pt, sizeof(pt), &ptlen);
		cr_assert_neq(r, 0, "flip at byte %zu accepted", i);
		out[i] ^= 0x10;
	}
	cr_assert_eq(rt_frame_open(&b_sees_a, out, len, pt, sizeof(pt), &ptlen), 0);
}

Test(router_frame, signature_is_checked_before_the_body_is_opened)
{
	static uint8_t out[1024], pt[1024];
	struct rt_hdr h;
	size_t len, ptlen;

	hdr(&h, 1);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, (const uint8_t *)PT,
	    strlen(PT), out, sizeof(out), &len), 0);
	out[RT_HDR_LEN + RT_NONCE_LEN] ^= 1;	/* ciphertext */
	cr_assert_eq(rt_frame_open(&b_sees_a, out, len, pt, sizeof(pt), &ptlen),
	    MOB_EBADSIG);
	cr_assert_eq(ptlen, 0);
}

Test(router_frame, third_party_key_cannot_sign_or_open)
{
	static uint8_t out[1024], pt[1024];
	struct rt_ident c;
	struct rt_peerkey c_sees_b;
	uint8_t sc[32];
	struct rt_hdr h;
	size_t len, ptlen;

	memset(sc, 0x55, sizeof(sc));
	cr_assert_eq(rt_ident_from_seed("000003", sc, &c), 0);
	memcpy(c_sees_b.pk, b.pk, 32);
	cr_assert_eq(rt_pair_key(&c, b.pk, c_sees_b.pair), 0);
	cr_assert_neq(memcmp(c_sees_b.pair, a_sees_b.pair, 32), 0);
	/* C claims to be A: B checks with A's key */
	hdr(&h, 1);
	cr_assert_eq(rt_frame_make(&c, &c_sees_b, &h, (const uint8_t *)PT,
	    strlen(PT), out, sizeof(out), &len), 0);
	cr_assert_eq(rt_frame_open(&b_sees_a, out, len, pt, sizeof(pt), &ptlen),
	    MOB_EBADSIG);
}

Test(router_frame, header_shape_is_checked_first)
{
	static uint8_t out[1024];
	struct rt_hdr h;
	size_t len;

	hdr(&h, 0);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, (const uint8_t *)PT,
	    strlen(PT), out, sizeof(out), &len), 0);
	cr_assert_eq(rt_frame_header(out, RT_HDR_LEN + RT_SIG_LEN - 1, &h), MOB_EFORMAT);
	cr_assert_eq(rt_frame_header(out, RT_FRAME_MAX + 1, &h), MOB_ETOOLONG);
	out[0] = 2;
	cr_assert_eq(rt_frame_header(out, len, &h), MOB_EFORMAT);
	out[0] = 1;
	out[1] = 0x80;
	cr_assert_eq(rt_frame_header(out, len, &h), MOB_EFORMAT);
	out[1] = 0;
	out[3] = 1;
	cr_assert_eq(rt_frame_header(out, len, &h), MOB_EFORMAT);
	out[3] = 0;
	cr_assert_eq(rt_frame_header(out, len, &h), 0);
}

Test(router_frame, oversized_body_is_refused)
{
	static uint8_t big[RT_FRAME_MAX], out[RT_FRAME_MAX + 1024];
	struct rt_hdr h;
	size_t len;

	hdr(&h, 1);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, big, RT_BODY_MAX + 1, out,
	    sizeof(out), &len), MOB_ETOOLONG);
	cr_assert_eq(rt_frame_make(&a, &a_sees_b, &h, big, RT_BODY_MAX, out,
	    sizeof(out), &len), 0);
	cr_assert_eq(len, RT_FRAME_MAX);
}
