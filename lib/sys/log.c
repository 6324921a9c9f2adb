#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mobius/log.h"

static const char *log_name = "mobius";
static int log_verbose;
static int log_journal = -1;

/* True when stderr is the journal stream systemd gave us (systemd.exec(5)). */
static int
log_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%lu:%lu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) == -1)
		return 0;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void
log_init(const char *name, int verbose)
{
	if (name != NULL)
		log_name = name;
	log_verbose = verbose;
	log_journal = log_is_journal();
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

void
log_vlog(int pri, const char *fmt, va_list ap)
{
	char buf[1024];

	if (pri == MOB_LOG_DEBUG && !log_verbose)
		return;
	if (log_journal == -1)
		log_journal = log_is_journal();
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", pri, buf);
	else
		fprintf(stderr, "%s: %s\n", log_name, buf);
}

#define LOG_BODY(pri) do { va_list ap; va_start(ap, fmt); \
	log_vlog(pri, fmt, ap); va_end(ap); } while (0)

static void MOB_PRINTF(2, 3)
log_emit(int pri, const char *fmt, ...)
{
	LOG_BODY(pri);
}

static void
log_errno(int pri, const char *fmt, va_list ap)
{
	char buf[900];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_emit(pri, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(MOB_LOG_WARNING, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...) { LOG_BODY(MOB_LOG_WARNING); }
void log_info(const char *fmt, ...) { LOG_BODY(MOB_LOG_INFO); }
void log_debug(const char *fmt, ...) { LOG_BODY(MOB_LOG_DEBUG); }

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(MOB_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(MOB_LOG_ERR);
	exit(1);
}
