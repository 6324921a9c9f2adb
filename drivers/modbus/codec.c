/*
 * Register codec: Modbus carries 16-bit registers, big-endian on the wire
 * (libmodbus hands them to us as host integers).  Devices disagree on how
 * 32-bit values span two registers (word order) and some swap the bytes
 * inside a register (byte order), so both are per point.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mobius/err.h"
#include "internal.h"

int
mob_mb_point_width(const struct mob_mb_point *p)
{
	switch (p->type) {
	case MOB_MB_INT32:
	case MOB_MB_UINT32:
	case MOB_MB_FLOAT32:
		return 2;
	default:
		return 1;
	}
}

static uint16_t
swap_bytes(int byte_little, uint16_t r)
{
	return byte_little ? (uint16_t)((r >> 8) | (r << 8)) : r;
}

static uint16_t
reg_order(const struct mob_mb_point *p, uint16_t r)
{
	return swap_bytes(p->byte_little, r);
}

static uint32_t
get32(int wl, int bl, const uint16_t *regs)
{
	uint16_t a = swap_bytes(bl, regs[0]), b = swap_bytes(bl, regs[1]);

	return wl ? ((uint32_t)b << 16 | a) : ((uint32_t)a << 16 | b);
}

static void
put32(const struct mob_mb_point *p, uint32_t v, uint16_t *regs)
{
	uint16_t hi = (uint16_t)(v >> 16), lo = (uint16_t)v;

	regs[0] = reg_order(p, p->word_little ? lo : hi);
	regs[1] = reg_order(p, p->word_little ? hi : lo);
}

double
mob_mb_decode_raw(enum mob_mb_type t, int wl, int bl, double scale,
    double offset, const uint16_t *regs)
{
	double raw;
	uint32_t u;
	float f;

	switch (t) {
	case MOB_MB_BOOL:
		/* Bits arrive as 0/1; a register as bool is "non-zero". */
		return regs[0] != 0;
	case MOB_MB_INT16:
		raw = (int16_t)swap_bytes(bl, regs[0]);
		break;
	case MOB_MB_UINT16:
		raw = swap_bytes(bl, regs[0]);
		break;
	case MOB_MB_INT32:
		raw = (int32_t)get32(wl, bl, regs);
		break;
	case MOB_MB_UINT32:
		raw = get32(wl, bl, regs);
		break;
	case MOB_MB_FLOAT32:
	default:
		u = get32(wl, bl, regs);
		memcpy(&f, &u, sizeof(f));
		raw = f;
		break;
	}
	return raw * scale + offset;
}

double
mob_mb_decode(const struct mob_mb_point *p, const uint16_t *regs)
{
	return mob_mb_decode_raw(p->type, p->word_little, p->byte_little,
	    p->scale, p->offset, regs);
}

int
mob_mb_encode(const struct mob_mb_point *p, double value, uint16_t *regs)
{
	double raw;
	uint32_t u;
	float f;

	if (!isfinite(value))
		return MOB_EINVAL;
	if (p->type == MOB_MB_BOOL) {
		if (value != 0 && value != 1)
			return MOB_ERANGE;
		regs[0] = value != 0;
		return 0;
	}
	raw = (value - p->offset) / p->scale;
	if (p->type != MOB_MB_FLOAT32)
		raw = nearbyint(raw);
	switch (p->type) {
	case MOB_MB_INT16:
		if (raw < INT16_MIN || raw > INT16_MAX)
			return MOB_ERANGE;
		regs[0] = reg_order(p, (uint16_t)(int16_t)raw);
		return 0;
	case MOB_MB_UINT16:
		if (raw < 0 || raw > UINT16_MAX)
			return MOB_ERANGE;
		regs[0] = reg_order(p, (uint16_t)raw);
		return 0;
	case MOB_MB_INT32:
		if (raw < INT32_MIN || raw > INT32_MAX)
			return MOB_ERANGE;
		put32(p, (uint32_t)(int32_t)raw, regs);
		return 0;
	case MOB_MB_UINT32:
		if (raw < 0 || raw > UINT32_MAX)
			return MOB_ERANGE;
		put32(p, (uint32_t)raw, regs);
		return 0;
	case MOB_MB_FLOAT32:
	default:
		if (fabs(raw) > 3.4028234663852886e38)
			return MOB_ERANGE;
		f = (float)raw;
		memcpy(&u, &f, sizeof(u));
		put32(p, u, regs);
		return 0;
	}
}

const char *
mob_mb_table_name(enum mob_mb_table t)
{
	static const char *names[] = { "coil", "discrete_input",
	    "holding_register", "input_register" };

	return (unsigned)t < 4 ? names[t] : "?";
}

const char *
mob_mb_type_name(enum mob_mb_type t)
{
	static const char *names[] = { "bool", "int16", "uint16", "int32",
	    "uint32", "float32" };

	return (unsigned)t < 6 ? names[t] : "?";
}
