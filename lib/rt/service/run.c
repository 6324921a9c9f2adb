/*
 * The service runtime: connecting, the event loop (descriptors, timers,
 * deferred publishing), systemd notification.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/persist.h"
#include "internal.h"

static volatile sig_atomic_t got_signal;

void
mob_service_status(struct mob_service *svc, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_debug("status: %s", buf);
	if (svc->notify)
		sd_notifyf(0, "STATUS=%s", buf);
}

int
mob_service_open(struct mob_service *svc)
{
	int rc;

	if (svc->started)
		return 0;
	if ((rc = mob_client_subscribe(svc->c, svc->reqtopic, 1)) != 0)
		return rc;
	svc->started = 1;
	for (size_t i = 0; i < svc->nobjs; i++)
		if ((rc = svc__sync(&svc->objs[i])) != 0)
			return rc;
	/* An unreachable hub is retried by mob_service_start. */
	if ((rc = mob_client_open(svc->c)) != 0 && rc != MOB_ESYS)
		return rc;
	return 0;
}

int
mob_service_start(struct mob_service *svc, int timeout_ms)
{
	uint64_t usec = 0;
	int rc;

	if ((rc = mob_service_open(svc)) != 0)
		return rc;
	/*
	 * What operators commanded before a restart, before it is published;
	 * after the sandbox: the driver's write handlers talk to the device.
	 */
	if (svc->state == NULL && (svc->state = mob_persist_path()) != NULL)
		mob_persist_restore(svc, svc->state);
	/* svc__on_conn publishes everything once the keys are in. */
	if ((rc = mob_client_connect(svc->c, timeout_ms)) != 0)
		return rc;
	if (svc->notify) {
		if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
			svc->wd_interval = (int64_t)(usec / 2000);
			if (svc->wd_interval < 1)
				svc->wd_interval = 1;
			svc->wd_next = mob_clock_mono_ms();
		}
		sd_notify(0, "READY=1");
	}
	return 0;
}

int
mob_service_add_fd(struct mob_service *svc, int fd, short events,
    mob_fd_fn cb, void *arg)
{
	struct sfd *nf;
	size_t cap;

	if (fd < 0 || cb == NULL)
		return MOB_EINVAL;
	if (svc->nfds == svc->fdcap) {
		cap = svc->fdcap ? 2 * svc->fdcap : 8;
		if ((nf = reallocarray(svc->fds, cap, sizeof(*nf))) == NULL)
			return MOB_ENOMEM;
		svc->fds = nf;
		svc->fdcap = cap;
	}
	svc->fds[svc->nfds].fd = fd;
	svc->fds[svc->nfds].events = events;
	svc->fds[svc->nfds].cb = cb;
	svc->fds[svc->nfds].arg = arg;
	svc->nfds++;
	return 0;
}

int
mob_service_del_fd(struct mob_service *svc, int fd)
{
	for (size_t i = 0; i < svc->nfds; i++) {
		if (svc->fds[i].fd == fd) {
			memmove(&svc->fds[i], &svc->fds[i + 1],
			    (svc->nfds - i - 1) * sizeof(svc->fds[0]));
			svc->nfds--;
			return 0;
		}
	}
	return MOB_ENOTFOUND;
}

int
mob_service_add_timer(struct mob_service *svc, int interval_ms,
    mob_timer_fn cb, void *arg)
{
	if (interval_ms <= 0 || cb == NULL)
		return MOB_EINVAL;
	if (svc->ntimers >= MAX_TIMERS)
		return MOB_ETOOLONG;
	svc->timers[svc->ntimers].interval = interval_ms;
	svc->timers[svc->ntimers].next = mob_clock_mono_ms() + interval_ms;
	svc->timers[svc->ntimers].cb = cb;
	svc->timers[svc->ntimers].arg = arg;
	svc->ntimers++;
	return 0;
}

void
mob_service_stop(struct mob_service *svc)
{
	svc->stop = 1;
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

static int
min_timeout(int a, int64_t b)
{
	if (b < 0)
		b = 0;
	if (a < 0 || b < a)
		return (int)(b > 60000 ? 60000 : b);
	return a;
}

/*
 * The poll set and the snapshot of the descriptors for nfds: grown here,
 * before the callbacks run, which may add descriptors but never see these
 * arrays move under the loop that calls them.
 */
static int
snap_reserve(struct mob_service *svc, size_t nfds)
{
	struct pollfd *np;
	struct sfd *ns;

	if (nfds <= svc->snapcap && svc->pfd != NULL)
		return 0;
	if ((np = reallocarray(svc->pfd, nfds + 1, sizeof(*np))) == NULL)
		return MOB_ENOMEM;
	svc->pfd = np;
	if ((ns = reallocarray(svc->fdsnap, nfds ? nfds : 1, sizeof(*ns))) == NULL)
		return MOB_ENOMEM;
	svc->fdsnap = ns;
	svc->snapcap = nfds;
	return 0;
}

/* One iteration; sigmask (may be NULL) is the mask while waiting. */
static int
service_iter(struct mob_service *svc, int timeout_ms, const sigset_t *sigmask)
{
	struct pollfd *pfd;
	struct sfd *fds;
	struct timespec ts, *tsp = NULL;
	size_t nfds = svc->nfds;
	int64_t now = mob_clock_mono_ms();
	int t, n, rc;

	if ((rc = snap_reserve(svc, nfds)) != 0)
		return rc;
	pfd = svc->pfd;
	fds = svc->fdsnap;
	t = mob_client_timeout(svc->c);
	if (timeout_ms >= 0)
		t = min_timeout(t, timeout_ms);
	for (size_t i = 0; i < svc->ntimers; i++)
		t = min_timeout(t, svc->timers[i].next - now);
	if (svc->next_due != 0)
		t = min_timeout(t, svc->next_due - now);
	if (svc->wd_interval > 0)
		t = min_timeout(t, svc->wd_next - now);
	mob_client_pollfd(svc->c, &pfd[0]);
	/* A copy: callbacks may add or remove descriptors. */
	if (nfds > 0)
		memcpy(fds, svc->fds, nfds * sizeof(fds[0]));
	for (size_t i = 0; i < nfds; i++) {
		pfd[i + 1].fd = fds[i].fd;
		pfd[i + 1].events = fds[i].events;
		pfd[i + 1].revents = 0;
	}
	if (t >= 0) {
		ts.tv_sec = t / 1000;
		ts.tv_nsec = (long)(t % 1000) * 1000000;
		tsp = &ts;
	}
	if ((n = ppoll(pfd, nfds + 1, tsp, sigmask)) == -1) {
		if (errno != EINTR)
			return MOB_ESYS;
		n = 0;
		pfd[0].revents = 0;
		for (size_t i = 0; i < nfds; i++)
			pfd[i + 1].revents = 0;
	}
	/* only another process with our key stops the client (it said so) */
	if ((rc = mob_client_process(svc->c, pfd[0].revents)) != 0)
		return rc;
	for (size_t i = 0; i < nfds; i++)
		if (pfd[i + 1].revents != 0)
			fds[i].cb(svc, fds[i].fd, pfd[i + 1].revents, fds[i].arg);
	now = mob_clock_mono_ms();
	for (size_t i = 0; i < svc->ntimers; i++) {
		struct stimer *tm = &svc->timers[i];

		if (now >= tm->next) {
			/* Skip missed periods instead of bursting. */
			tm->next += tm->interval;
			if (tm->next <= now)
				tm->next = now + tm->interval;
			tm->cb(svc, tm->arg);
		}
	}
	svc__tick(svc);
	if (svc->wd_interval > 0 && now >= svc->wd_next) {
		sd_notify(0, "WATCHDOG=1");
		svc->wd_next = now + svc->wd_interval;
	}
	return 0;
}

int
mob_service_once(struct mob_service *svc, int timeout_ms)
{
	return service_iter(svc, timeout_ms, NULL);
}

int
mob_service_run(struct mob_service *svc)
{
	struct sigaction sa, old_term, old_int;
	sigset_t block, waitmask;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	/* Blocked except inside ppoll: no signal is lost between checks. */
	if (sigprocmask(SIG_BLOCK, &block, &waitmask) == -1 ||
	    sigaction(SIGTERM, &sa, &old_term) == -1 ||
	    sigaction(SIGINT, &sa, &old_int) == -1)
		return MOB_ESYS;
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	got_signal = 0;
	svc->stop = 0;
	while (!svc->stop && !got_signal) {
		if ((rc = service_iter(svc, -1, &waitmask)) != 0)
			break;
	}
	if (got_signal)
		log_info("signal %d: stopping", (int)got_signal);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	return rc;
}

