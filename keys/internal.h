/*
 * mobius-keytool's private header: the key directory, the command table's
 * shape, the option reader and every command family (one file each).
 *
 * A command is int cmd_NAME(struct kt *, int argc, char **argv), listed in
 * kt_cmds[] (keytool.c) with its arguments and one line of help.  It reads
 * its options with kt_getopt(), says what went wrong on stderr and returns
 * 0 or a negative MOB_E* code (KT_EUSAGE for a command-line error); only
 * main() turns that into the exit status (0, 1, or 2 for usage).
 */
#ifndef MOBIUS_KEYS_INTERNAL_H
#define MOBIUS_KEYS_INTERNAL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mobius/err.h"
#include "mobius/key.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/proto.h"

/* A command-line error, said on stderr already: main exits 2. */
#define KT_EUSAGE	(MOB_ERR_MIN - 1)

#define KT_UNIT_DEFAULT	"mobius-hub.service"
#define KT_HUB_USER	"mobius-hub"
#define KT_ROUTER_SID	"0F0"
#define KT_GRACE_DEFAULT 3600
#define KT_GRACE_MAX	(30 * 86400)
#define KT_IMPORT_MAX	65536

struct kt {
	const char *dir;
	char keyring[PATH_MAX];
	char hubkey[PATH_MAX];
	char pidfile[PATH_MAX];
};

struct kt_owner {
	uid_t uid;		/* (uid_t)-1: leave the file ours */
	gid_t gid;
};

struct kt_cmd {
	const char *name;
	int (*fn)(struct kt *, int, char **);
	const char *args;
	const char *help;
};

/*
 * A command's option: a string taken as it is (str), a flag set to 1
 * (flag), or a value that parse() checks as it is read and stores in val
 * (it returns 0, or kt_usage's status).
 */
struct kt_opt {
	const char *name;
	int short_name;		/* 0: only the long form */
	const char **str;
	int *flag;
	int (*parse)(const char *, void *);
	void *val;
};

/* --- keytool.c: the command line ----------------------------------------- */

#define KT_OPTS_MAX	8
#define KT_GO		1	/* not a MOB_E* code */

/* A usage error of the current command: says so on stderr, KT_EUSAGE. */
int kt_usage(const char *fmt, ...) MOB_PRINTF(1, 2);
/*
 * The options of a command (plus -h, --help).  Returns KT_GO for the
 * command to go on, else what the command returns: 0 after the help,
 * KT_EUSAGE after a usage error.
 */
int kt_getopt(int argc, char **argv, const struct kt_opt *o);
/* mob_parse_timespan in whole seconds (at most KT_GRACE_MAX). */
int kt_parse_duration(const char *s, int64_t *out);

/* --- store.c: the key directory ------------------------------------------ */

void kt_err(int r, const char *what);
int64_t kt_now(void);
int kt_parse_ss(const char *s, char spid[5], char sid[4]);
void kt_sidpath(const struct kt *kt, const char *sid, char *out, size_t len);
int kt_owner(const char *user, int required, struct kt_owner *o);
void kt_hub_owner(const struct kt *kt, struct kt_owner *o, int say);
int kt_load(const char *path, struct mob_keyring **kr);
int kt_save(const struct mob_keyring *kr, const char *path,
    const struct kt_owner *o);
int kt_lock(const struct kt *kt, int *fd);
int kt_lock_load(const struct kt *kt, int *lock, struct mob_keyring **kr);
void kt_fpr(const struct mob_key *key, char fpr[MOB_FPR_LEN + 1]);
int kt_add_copy(struct mob_keyring *kr, const struct mob_kr_entry *e,
    int public_only);
int kt_save_keyring(const struct kt *kt, const struct mob_keyring *kr);
int kt_install(const struct kt *kt, struct mob_keyring *kr,
    struct mob_kr_entry *e, const char *path, const struct kt_owner *svcown);
int kt_mkdirs(const char *dir);

/* --- the commands, a family a file --------------------------------------- */

/* init.c */
int cmd_init(struct kt *kt, int argc, char **argv);
/* service.c */
int cmd_add(struct kt *kt, int argc, char **argv);
int cmd_list(struct kt *kt, int argc, char **argv);
int cmd_revoke(struct kt *kt, int argc, char **argv);
int cmd_rotate(struct kt *kt, int argc, char **argv);
/* --grace DURATION (kt_opt.parse); the owner of a file when root rotates */
int kt_opt_grace(const char *arg, void *out);
uid_t kt_file_uid(const char *path, gid_t *gid);
/* token.c */
int cmd_pubkey(struct kt *kt, int argc, char **argv);
int cmd_token(struct kt *kt, int argc, char **argv);
int cmd_verify(struct kt *kt, int argc, char **argv);
/* peer.c */
int cmd_export_peer(struct kt *kt, int argc, char **argv);
int cmd_import_peer(struct kt *kt, int argc, char **argv);
int cmd_remove_peer(struct kt *kt, int argc, char **argv);
int cmd_rotate_peer(struct kt *kt, int argc, char **argv);
/* DIR/peers: the peers and their public keys, what mobius-router reads */
#define KT_PEERS	"peers"
void kt_peers_path(const struct kt *kt, char *buf, size_t len);
int kt_peers_load(const struct kt *kt, struct mob_keyring *node, int migrate,
    struct mob_keyring **out, size_t *moved);
int kt_peers_save(const struct kt *kt, const struct mob_keyring *kr);
/* reload.c */
int cmd_reload(struct kt *kt, int argc, char **argv);
/* apitoken.c: mobius-api's tokens and TLS certificate (docs/api.md) */
#define KT_API_TOKEN_USAGE \
	"add NAME --scope VERB:PATTERN... | list | revoke NAME"
int cmd_api_token(struct kt *kt, int argc, char **argv);
int cmd_api_cert(struct kt *kt, int argc, char **argv);
/* The key and certificate, also for init; force replaces them. */
int kt_api_cert_make(const struct kt *kt, int force);

#endif
