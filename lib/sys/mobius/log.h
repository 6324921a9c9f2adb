/*
 * Logging in the OpenBSD style.  Lines go to stderr; when stderr is the
 * journal (JOURNAL_STREAM matches it, i.e. systemd started us) each line
 * starts with a "<N>" syslog priority that journald understands.
 *
 * Never pass a secret (key, token, PSK) to these functions.
 */
#ifndef MOBIUS_LOG_H
#define MOBIUS_LOG_H

#include <stdarg.h>

enum { MOB_LOG_ERR = 3, MOB_LOG_WARNING = 4, MOB_LOG_NOTICE = 5,
       MOB_LOG_INFO = 6, MOB_LOG_DEBUG = 7 };

/* name prefixes every line; verbose > 0 enables log_debug. */
void log_init(const char *name, int verbose);
void log_setverbose(int verbose);

#define MOB_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_warn(const char *fmt, ...) MOB_PRINTF(1, 2);	/* adds strerror(errno) */
void log_warnx(const char *fmt, ...) MOB_PRINTF(1, 2);
void log_info(const char *fmt, ...) MOB_PRINTF(1, 2);
void log_debug(const char *fmt, ...) MOB_PRINTF(1, 2);
void fatal(const char *fmt, ...) MOB_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) MOB_PRINTF(1, 2) __attribute__((noreturn));
void log_vlog(int pri, const char *fmt, va_list ap) MOB_PRINTF(2, 0);

#endif
