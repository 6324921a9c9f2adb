/* mobius-keytool internals. */
#ifndef MOBIUS_KEYS_INTERNAL_H
#define MOBIUS_KEYS_INTERNAL_H

#define KT_OK		0
#define KT_FAIL		1
#define KT_USAGE	2

#define KT_UNIT_DEFAULT	"mobius-hub.service"

/*
 * Ask a running hub to re-read its keys: through systemd when unit is
 * active (sd-bus), else SIGHUP to the pid in pidfile from inside the
 * "keytool" sandbox (unless no_sandbox).  Returns KT_OK or KT_FAIL after
 * saying why on stderr.
 */
int kt_reload(const char *unit, const char *pidfile, int no_sandbox);

#endif
