/*
 * Test harness: real processes in a temporary directory, cleaned up.
 * Used by the integration tests (hub, services, CLI).  Binaries are taken
 * from $MOBIUS_BUILD (default "build"): $MOBIUS_BUILD/bin/NAME.
 */
#ifndef MOBIUS_TEST_HARNESS_H
#define MOBIUS_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "mobius/keyring.h"

struct th_proc {
	pid_t pid;
	char name[64];
	char log[512];		/* stdout+stderr of the process */
};

/* New directory under $TMPDIR (or /tmp); abort the test on failure. */
void th_tmpdir(char *out, size_t len);
void th_rmtree(const char *path);
/* Path of a built program or plugin: $MOBIUS_BUILD/<rel>. */
void th_path(const char *rel, char *out, size_t len);

/* Start argv (argv[0] a path) with extra "K=V" env entries (NULL-terminated
 * list, may be NULL); output goes to logfile.  0 or -errno.  Under a SAN
 * build ($MOBIUS_BUILD ends in "san") mobius-hub gets LD_PRELOAD=libasan.so
 * and ASAN_OPTIONS=detect_leaks=0, so mosquitto can load the ASan plugin. */
int th_spawn(struct th_proc *p, char *const argv[], char *const env[], const char *logfile);
/* Send sig, wait up to timeout_ms, SIGKILL after; returns wait status. */
int th_stop(struct th_proc *p, int sig, int timeout_ms);
/* Run argv to completion capturing stdout into out (may be NULL);
 * returns the exit code (or 128+signal). */
int th_run(char *const argv[], char *const env[], char *out, size_t outlen, int timeout_ms);
/* Write text to path (created 0600 or truncated); abort the test on failure. */
void th_write_file(const char *path, const char *text);
/*
 * The CLI, $MOBIUS_BUILD/bin/mobius, run through sh so that stderr lands
 * in out too; the arguments are one shell command line after "mobius"
 * (fmt).  env as th_spawn's (MOBIUS_SOCKET=..., MOBIUS_KEY=...).  Returns
 * the exit code.
 */
int th_cli(char *const env[], char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Poll until path exists (socket, file), 0 or -ETIMEDOUT. */
int th_wait_path(const char *path, int timeout_ms);
/* Poll until the file contains needle, 0 or -ETIMEDOUT. */
int th_wait_log(const char *path, const char *needle, int timeout_ms);
/* How many times needle occurs in the file now (0 if unreadable). */
int th_count_log(const char *path, const char *needle);
/* Whole file into a NUL-terminated buffer (NULs inside become spaces),
 * or NULL; free() it.  lenp may be NULL. */
char *th_slurp(const char *path, size_t *lenp);
/* A free TCP port on 127.0.0.1. */
int th_free_port(void);

/*
 * Ordering probe: a daemon run under strace, then its trace read back.
 * th_strace_missing(): NULL when /usr/bin/strace can trace here, else why
 * not (a skip reason).  th_strace_argv(): argv under strace -f writing
 * trace (out has room for max entries, argv's included).
 */
const char *th_strace_missing(void);
void th_strace_argv(char *const argv[], const char *trace, char **out, size_t max);
/*
 * Did the traced daemon read no byte from a peer before it was confined?
 * Peers: the hub (a connect() to hub_sock), devices over TCP (AF_INET,
 * AF_INET6), clients accepted on a listening socket and simulated chips'
 * FIFOs (an open of a "*.in" path);
 * confined: the first seccomp filter installed.  Returns how many reads
 * of peer bytes came after (> 0 for a daemon that did its job), or -1
 * with the first offending read (or a missing filter) in why.
 */
/* The traced program's pid (strace does not pass signals on), or -1. */
pid_t th_trace_pid(const char *trace);
int th_trace_confined_first(const char *trace, const char *hub_sock,
    char *why, size_t len);

/* A whole node: keys made with mobius-keytool, hub on a Unix socket;
 * hub log in DIR/hub.log, hub state in DIR/state. */
#define TH_HID	"000001"

struct th_node {
	char dir[256];		/* temp dir, removed by th_node_stop */
	char keys[300];		/* keytool --dir */
	char sock[300];		/* hub socket */
	char hid[7];
	enum mob_mode mode;
	struct th_proc hub;
};

/* keytool init in the given mode, no hub (th_node_hub_start starts one). */
void th_node_init(struct th_node *n, enum mob_mode mode);
/* keytool init in the given mode, then start mobius-hub, wait for its socket. */
void th_node_start(struct th_node *n, enum mob_mode mode);
/* Same with plugin options "NAME=VALUE" (mobius-hub --opt), NULL-terminated. */
void th_node_start_opts(struct th_node *n, enum mob_mode mode, const char *const opts[]);
/* (Re)start only the hub of an initialized node; opts as above. */
void th_node_hub_start(struct th_node *n, const char *const opts[]);
/* keytool add SPID/SID; path of the service's key file into keyfile.  A
 * running hub is reloaded (SIGHUP) so the new key can log in at once. */
void th_node_add(struct th_node *n, const char *spid_sid, char *keyfile, size_t len);
/* SIGHUP the hub and wait until it has re-read the keyring. */
void th_node_reload(struct th_node *n);
/* SIGHUP to the hub `pid` whose files are in `dir`; waits for its reload. */
void th_hub_reload(pid_t pid, const char *dir);
/* Stop the hub, fail on a sanitizer report in its log, remove the dir. */
void th_node_stop(struct th_node *n);
/*
 * Start mobius-sim with config and key on node n's socket, its log in
 * n->dir/sim.log; confined (sandboxed != 0) or --no-sandbox.
 */
void th_sim_start(struct th_proc *p, const struct th_node *n, const char *config,
    const char *key, char *const env[], int sandboxed);

#endif
