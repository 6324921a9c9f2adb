/*
 * Modbus master driver (libmodbus): register maps, value codec, coalesced
 * block polling, writes with read-back, offline detection with backoff.
 *
 * The configuration structs are plain data (filled by mob_mb_config_parse
 * or by hand in tests); the master that runs them is opaque.  Buses are
 * shared: every device naming the same TCP host:port or the same serial
 * device uses one libmodbus context, selecting its unit id per request.
 *
 * Single-threaded: every call blocks for at most one request's
 * timeout_ms * (retries + 1).
 */
#ifndef MOBIUS_DRIVERS_MBDRV_H
#define MOBIUS_DRIVERS_MBDRV_H

#include <stddef.h>
#include <stdint.h>

#define MOB_MB_NAME_MAX		64
#define MOB_MB_MAX_READ_REGS	125	/* Modbus limit for FC 3/4 */
#define MOB_MB_MAX_READ_BITS	2000	/* Modbus limit for FC 1/2 */

enum mob_mb_table { MOB_MB_COIL, MOB_MB_DISCRETE, MOB_MB_HOLDING, MOB_MB_INPUT };
enum mob_mb_type {
	MOB_MB_BOOL, MOB_MB_INT16, MOB_MB_UINT16, MOB_MB_INT32, MOB_MB_UINT32,
	MOB_MB_FLOAT32
};

/* What decoding needs comes first: a poll touches one cache line a point. */
struct mob_mb_point {
	enum mob_mb_type type;
	int word_little;	/* low word at the lower address */
	int byte_little;	/* low byte first within each register */
	uint16_t address;
	enum mob_mb_table table;
	double scale;		/* value = raw * scale + offset */
	double offset;
	int poll_ms;		/* 0: the device's */
	void *udata;		/* the service's resource */
	char name[MOB_MB_NAME_MAX];
};

struct mob_mb_device {
	char name[MOB_MB_NAME_MAX];
	int rtu;			/* 0: TCP */
	char host[64];			/* TCP */
	int port;
	char path[128];			/* RTU serial device */
	int baud;
	char parity;			/* 'N', 'E', 'O' */
	int data_bits, stop_bits;
	int unit;			/* slave / unit id, 0..247 (TCP: 0..255) */
	int timeout_ms;			/* per request */
	int retries;			/* extra tries before the device is offline */
	int poll_ms;
	int backoff_min_ms, backoff_max_ms;
	int max_gap;			/* unmapped registers a block may span */
	struct mob_mb_point *points;
	size_t npoints;
};

struct mob_mb_config {
	struct mob_mb_device *devices;
	size_t ndevices;
};

/*
 * Config (docs/hardware.md), with lib/rt/mobius/config.h so errors name the
 * file and JSON path.  Device: the "modbus" member of an object; point: the
 * "modbus" member of a resource.  The checks compare with what was parsed
 * before: a bus's serial settings must agree, a unit id is used once per
 * bus, and a point must not overlap another point of its device.
 */
struct mob_config;
struct mob_cnode;
int mob_mb_device_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_mb_device *out);
int mob_mb_device_check(struct mob_config *c, const struct mob_cnode *n,
    const struct mob_mb_device *devs, size_t ndevs, const struct mob_mb_device *d);
int mob_mb_point_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_mb_point *out);
int mob_mb_point_check(struct mob_config *c, const struct mob_cnode *n,
    const struct mob_mb_device *d, const struct mob_mb_point *p);
/* Frees each device's points and the array. */
void mob_mb_config_free(struct mob_mb_config *cfg);

/* Registers (or bits) a point spans: 1 or 2. */
int mob_mb_point_width(const struct mob_mb_point *p);
/* Decode a point's raw registers (bits as 0/1 in regs[0]) into its value. */
double mob_mb_decode(const struct mob_mb_point *p, const uint16_t *regs);
/*
 * Encode value into the point's registers.  MOB_ERANGE when it does not fit
 * the type after scale and offset, MOB_EINVAL when not finite.
 */
int mob_mb_encode(const struct mob_mb_point *p, double value, uint16_t *regs);

/* --- the master -------------------------------------------------------- */

enum mob_mb_event {
	MOB_MB_EV_VALUE,	/* dev, point, value: a reading that differs from
				 * the last one sent (or the first since the
				 * point was unknown or written) */
	MOB_MB_EV_POINT_ERR,	/* dev, point, err: this point could not be read */
	MOB_MB_EV_ONLINE,	/* dev: answers again */
	MOB_MB_EV_OFFLINE	/* dev, err: stopped answering; its values are stale */
};

typedef void (*mob_mb_event_fn)(void *arg, enum mob_mb_event ev, size_t dev,
    size_t point, double value, int err);

struct mob_mb_master;

/* cfg must outlive the master. */
int mob_mb_master_new(const struct mob_mb_config *cfg, mob_mb_event_fn fn,
    void *arg, struct mob_mb_master **out);
void mob_mb_master_free(struct mob_mb_master *m);

/*
 * Open every bus (serial port, TCP connection) without a request: a
 * daemon's open phase, before the sandbox hides device paths.  A bus that
 * cannot be opened now is retried by the first poll.  Returns 0.
 */
int mob_mb_master_connect(struct mob_mb_master *m);
/*
 * Poll every block that is due now (monotonic clock); events go to fn.
 * Returns the ms until the next block is due (>= 0).
 */
int mob_mb_master_poll(struct mob_mb_master *m);
/*
 * Write value to a coil or holding register point, then read it back;
 * *readback (may be NULL) gets the device's value (no event is sent: the
 * caller is in the middle of its own write).  Errors: MOB_EREADONLY,
 * MOB_ERANGE, MOB_EOFFLINE (device offline, nothing sent), MOB_ETIMEOUT,
 * MOB_EMBADDR / MOB_EMBVALUE (exception responses), MOB_EDEVICE.
 */
int mob_mb_master_write(struct mob_mb_master *m, size_t dev, size_t point,
    double value, double *readback);
int mob_mb_master_online(const struct mob_mb_master *m, size_t dev);
/* Completed poll cycles (every block of the device read once), for benches. */
uint64_t mob_mb_master_cycles(const struct mob_mb_master *m, size_t dev);
/*
 * Time spent polling dev, in ns: wall time in requests plus CPU time
 * decoding and in the event callbacks (preemption is not the master's).
 */
uint64_t mob_mb_master_busy_ns(const struct mob_mb_master *m, size_t dev);
/* The part of it spent in libmodbus requests (waiting for the device). */
uint64_t mob_mb_master_io_ns(const struct mob_mb_master *m, size_t dev);
/* Read requests sent per full cycle of dev (after coalescing). */
size_t mob_mb_master_blocks(const struct mob_mb_master *m, size_t dev);

/* Map a libmodbus errno to a MOB_E* code. */
int mob_mb_errno(int e);

const char *mob_mb_table_name(enum mob_mb_table t);
const char *mob_mb_type_name(enum mob_mb_type t);

#endif
