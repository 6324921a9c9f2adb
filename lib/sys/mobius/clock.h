/*
 * The two clocks.  Whatever measures a delay (timeouts, periods, backoff,
 * watchdog pings) uses the monotonic clock, which a clock step does not
 * move; only what is stamped into a message or shown to a person (iat,
 * "changed" times) uses the wall clock.
 */
#ifndef MOBIUS_CLOCK_H
#define MOBIUS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC: an arbitrary origin, never steps back. */
int64_t mob_clock_mono_ns(void);
int64_t mob_clock_mono_ms(void);
/*
 * CLOCK_BOOTTIME: as monotonic, but it also counts time suspended, so the
 * wall clock minus it moves only when the wall clock is stepped.
 */
int64_t mob_clock_boot_ms(void);
/* CLOCK_REALTIME in unix milliseconds / microseconds. */
int64_t mob_clock_wall_ms(void);
int64_t mob_clock_wall_us(void);

#endif
