/*
 * The README, as a new user follows it, in a real terminal: tmux types
 * README's command (`make run`) into one pane, then every command the
 * banner gives for "another terminal" into a second pane, and the test
 * reads both screens: live values in the first, the values asked for in
 * the second.  It waits on what the screens show, never on a clock.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/harness.h"

#define SCREEN_MAX	(256 * 1024)
#define CMDS_MAX	16

static char dir[256], sock[400], cwd[512];
static int started;

/* tmux with our own server socket; argv after "tmux -S SOCK". */
static int
tmux(char *out, size_t len, const char *const *args)
{
	char *argv[16];
	size_t n = 0;

	argv[n++] = "/usr/bin/tmux";
	argv[n++] = "-S";
	argv[n++] = sock;
	for (; *args != NULL && n < 15; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	if (out != NULL)
		out[0] = '\0';
	return th_run(argv, NULL, out, len, 20000);
}

/* The whole of a pane (history and screen, wrapped lines joined). */
static void
screen(int pane, char *out, size_t len)
{
	char t[32];
	const char *a[] = { "capture-pane", "-p", "-J", "-S", "-", "-t", t,
	    NULL };

	snprintf(t, sizeof(t), "readme:0.%d", pane);
	cr_assert_eq(tmux(out, len, a), 0, "capture-pane: %s", out);
}

/* 1 once the pane shows needle (polls; the screen is the condition). */
static int
wait_screen(int pane, const char *needle, int ms, char *out, size_t len)
{
	int waited;

	for (waited = 0; waited <= ms; waited += 200) {
		screen(pane, out, len);
		if (strstr(out, needle) != NULL)
			return 1;
		usleep(200 * 1000);
	}
	return 0;
}

/* Type a line into a pane, as a person would, and press Enter. */
static void
type(int pane, const char *line)
{
	char t[32];
	const char *lit[] = { "send-keys", "-t", t, "-l", line, NULL };
	const char *enter[] = { "send-keys", "-t", t, "Enter", NULL };

	snprintf(t, sizeof(t), "readme:0.%d", pane);
	cr_assert_eq(tmux(NULL, 0, lit), 0);
	cr_assert_eq(tmux(NULL, 0, enter), 0);
}

static void
ctrl_c(int pane)
{
	char t[32];
	const char *a[] = { "send-keys", "-t", t, "C-c", NULL };

	snprintf(t, sizeof(t), "readme:0.%d", pane);
	tmux(NULL, 0, a);
}

/* README's first command under "## Run a node" (an indented line). */
static void
readme_command(char *out, size_t len)
{
	char line[512];
	int in = 0;
	FILE *f = fopen("README.md", "r");

	cr_assert_not_null(f, "README.md: %s", strerror(errno));
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL && out[0] == '\0') {
		if (strncmp(line, "## ", 3) == 0)
			in = strncmp(line, "## Run a node", 13) == 0;
		else if (in && strncmp(line, "    ", 4) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line + 4);
		}
	}
	fclose(f);
	cr_assert_neq(out[0], '\0', "no command under \"## Run a node\"");
}

/*
 * The banner's commands for another terminal: the indented lines after
 * "Use it from another terminal:" up to the blank line, and the key lines
 * after "Keys (".
 */
static size_t
banner_commands(char *text, char *cmds[CMDS_MAX])
{
	char *s, *nl;
	size_t n = 0;
	int in = 0;

	for (s = text; s != NULL && *s != '\0' && n < CMDS_MAX; s = nl) {
		if ((nl = strchr(s, '\n')) != NULL)
			*nl++ = '\0';
		if (strncmp(s, "Use it from another terminal:", 29) == 0 ||
		    strncmp(s, "Keys (", 6) == 0)
			in = 1;
		else if (*s == '\0')
			in = 0;
		else if (in && strncmp(s, "  ", 2) == 0)
			cmds[n++] = s + 2;
	}
	return n;
}

static void
setup(void)
{
	th_tmpdir(dir, sizeof(dir));
	/* TMPDIR for make run: open like /tmp, as the daemons' uids (and the
	 * banner's keytool as the hub's) must reach the node's directory */
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/tmux.sock", dir);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
}

/* Ctrl-C to the node (it stops and removes its directory), then tmux. */
static void
teardown(void)
{
	const char *kill[] = { "kill-server", NULL };
	char *out = malloc(SCREEN_MAX);

	if (started && out != NULL) {
		ctrl_c(1);
		ctrl_c(0);
		if (!wait_screen(0, "run-node: node stopped", 30000, out,
		    SCREEN_MAX))
			fprintf(stderr, "the node did not stop:\n%s\n", out);
	}
	free(out);
	tmux(NULL, 0, kill);
	th_rmtree(dir);
}

Test(readme, its_commands_typed_into_a_terminal_show_values,
    .init = setup, .fini = teardown, .timeout = 300)
{
	char cmd[512], sess[600], port[64], *cmds[CMDS_MAX], *scr, *banner;
	char mark[32];
	const char *b = getenv("MOBIUS_BUILD");
	const char *split[] = { "split-window", "-t", "readme:0", "-c", cwd,
	    "/bin/sh", NULL };
	const char *news[] = { "new-session", "-d", "-s", "readme", "-x", "250",
	    "-y", "100", "-c", cwd, "-e", sess, "-e", port, "/bin/sh", NULL };
	size_t n, i;
	int rc;

	if (access("scripts/run-node.sh", X_OK) != 0)
		cr_skip_test("run from the source tree (scripts/run-node.sh)");
	if (access("/usr/bin/tmux", X_OK) != 0)
		cr_skip_test("tmux is not installed (debian-deps.txt has it)");
	/* `make run` runs the normal build: the SAN pass would repeat it */
	if (b != NULL && strcmp(b, "build") != 0)
		cr_skip_test("MOBIUS_BUILD=%s: the README's make run uses build/; "
		    "this test runs in the normal pass only", b);
	cr_assert_not_null(scr = malloc(SCREEN_MAX));
	cr_assert_not_null(banner = malloc(SCREEN_MAX));
	snprintf(sess, sizeof(sess), "TMPDIR=%s", dir);
	snprintf(port, sizeof(port), "MOBIUS_MODBUS_PORT=%d", th_free_port());
	cr_assert_eq(tmux(scr, SCREEN_MAX, news), 0, "tmux: %s", scr);
	started = 1;

	/* terminal 1: the README's command */
	readme_command(cmd, sizeof(cmd));
	type(0, cmd);
	cr_assert(wait_screen(0, "Live values follow", 240000, scr, SCREEN_MAX),
	    "no banner after \"%s\":\n%s", cmd, scr);
	/* live values: a COV line (UTC time, a URI of node 000001) */
	cr_expect(wait_screen(0, "Z  000001/", 60000, scr, SCREEN_MAX),
	    "no live value in terminal 1:\n%s", scr);
	memcpy(banner, scr, SCREEN_MAX);
	n = banner_commands(banner, cmds);
	cr_assert_geq(n, 8, "the banner's commands:\n%s", scr);

	/* terminal 2: each command the banner gives, as typed */
	cr_assert_eq(tmux(scr, SCREEN_MAX, split), 0, "split: %s", scr);
	for (i = 0; i < n; i++) {
		type(1, cmds[i]);
		if (strstr(cmds[i], " watch") != NULL) {
			/* it runs until Ctrl-C: stop it once it showed a value */
			cr_expect(wait_screen(1, "\"value\"", 30000, scr,
			    SCREEN_MAX), "watch showed nothing:\n%s", scr);
			ctrl_c(1);
		}
		/* the shell is back (an echo's output, not its command line) */
		snprintf(mark, sizeof(mark), "done-%zu", 1000 + i);
		snprintf(cmd, sizeof(cmd), "echo done-$((%zu + 1000)) rc=$?", i);
		type(1, cmd);
		cr_assert(wait_screen(1, mark, 60000, scr, SCREEN_MAX),
		    "\"%s\" did not finish:\n%s", cmds[i], scr);
		rc = atoi(strstr(scr, mark) + strlen(mark) + strlen(" rc="));
		if (strstr(cmds[i], " watch") == NULL)
			cr_expect_eq(rc, 0, "\"%s\" exited %d:\n%s", cmds[i],
			    rc, scr);
	}
	screen(1, scr, SCREEN_MAX);
	cr_expect_not_null(strstr(scr, "Room temperature"), "discover: %s", scr);
	cr_expect_not_null(strstr(scr, " Cel\n"), "get: a value in Cel: %s",
	    scr);
	cr_expect_not_null(strstr(scr, "\"bn\""), "get --senml: %s", scr);
	cr_expect_not_null(strstr(scr, "the hub loaded the keyring"),
	    "keytool reload: %s", scr);
	free(banner);
	free(scr);
}
