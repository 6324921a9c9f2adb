/*
 * Log lines about what clients do.  Everything a client chose (ids,
 * usernames, topics) goes through hub_log__safe; warnings are rate-limited
 * so a misbehaving client cannot flood the journal.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "internal.h"

const char *
hub_log__safe(const char *s, char *buf, size_t len)
{
	size_t i;

	if (s == NULL)
		return "(none)";
	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

void
hub_log__event(struct hub *h, const char *fmt, ...)
{
	int64_t sec = mob_clock_mono_ms() / 1000;
	char buf[512];
	va_list ap;

	if (sec != h->log_second) {
		h->log_second = sec;
		h->log_budget = HUB_LOG_PER_S;
	}
	if (h->log_budget == 0) {
		h->log_suppressed++;
		return;
	}
	h->log_budget--;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mosquitto_log_printf(MOSQ_LOG_WARNING, "mobius: %s", buf);
}

void
hub_log__flush(struct hub *h)
{
	if (h->log_suppressed == 0)
		return;
	mosquitto_log_printf(MOSQ_LOG_WARNING, "mobius: %llu more warnings "
	    "suppressed (at most %d a second)",
	    (unsigned long long)h->log_suppressed, HUB_LOG_PER_S);
	h->log_suppressed = 0;
}
