/*
 * The two clocks (mobius/clock.h).  clock_gettime cannot fail for these
 * clock ids on Linux, so the results are not checked.
 */
#include <time.h>

#include "mobius/clock.h"

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
mob_clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t
mob_clock_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t
mob_clock_boot_ms(void)
{
	return clock_ns(CLOCK_BOOTTIME) / 1000000;
}

int64_t
mob_clock_wall_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

int64_t
mob_clock_wall_us(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000;
}
