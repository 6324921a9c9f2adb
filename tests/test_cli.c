/*
 * mobius, the CLI, end to end: a real node (mobius-keytool, mobius-hub
 * with our plugin, mobius-sim) in a temporary directory, and the CLI
 * binary run as a user would run it.  Also the `make run` script.
 */
#include <criterion/criterion.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "mobius/b64.h"
#include "mobius/keyring.h"
#include "support/harness.h"

#define SIM_ID		"0010/010"
#define CLI_ID		"00C1/0C1"
#define CLI2_ID		"00C1/0C2"
#define OUT_MAX		65536

static struct th_node node;
static struct th_proc sim;
static char cli_key[512], cli2_key[512], sim_key[512], sim_cfg[512];
static char env_sock[600], env_key[600];
static char *cli_env[] = { env_sock, env_key, NULL };

/* URIs of the test objects in sim_cfg (written by write_sim_config). */
static char temp_uri[32], setp_uri[32], switch_uri[32];

/* --- helpers -------------------------------------------------------- */

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "open %s: %s", path, strerror(errno));
	cr_assert_geq(fputs(text, fp), 0);
	cr_assert_eq(fclose(fp), 0);
}

/*
 * The simulator's objects for these tests: a drifting temperature (read
 * only, changes every 100 ms), a writable setpoint and a switch.
 */
static void
write_sim_config(const char *dir)
{
	snprintf(sim_cfg, sizeof(sim_cfg), "%s/sim.json", dir);
	write_file(sim_cfg,
	    "{\n"
	    "  \"name\": \"test sim\",\n"
	    "  \"objects\": [\n"
	    "    { \"pid\": \"0001\", \"ins\": \"0001\", \"name\": \"room\",\n"
	    "      \"resources\": [\n"
	    "        { \"rid\": \"40\", \"name\": \"temperature\", \"type\": \"number\",\n"
	    "          \"units\": \"Cel\", \"precision\": 2, \"default\": 21,\n"
	    "          \"sim\": { \"model\": \"drift\", \"center\": 21, \"noise\": 0.5,\n"
	    "                   \"period\": 0.1 } } ] },\n"
	    "    { \"pid\": \"0002\", \"ins\": \"0001\", \"name\": \"thermostat\",\n"
	    "      \"resources\": [\n"
	    "        { \"rid\": \"40\", \"name\": \"setpoint\", \"type\": \"number\",\n"
	    "          \"access\": \"rw\", \"min\": 5, \"max\": 30, \"units\": \"Cel\",\n"
	    "          \"default\": 20 } ] },\n"
	    "    { \"pid\": \"0003\", \"ins\": \"0001\", \"name\": \"light\",\n"
	    "      \"resources\": [\n"
	    "        { \"rid\": \"40\", \"name\": \"on\", \"type\": \"bool\",\n"
	    "          \"access\": \"rw\", \"default\": false },\n"
	    "        { \"rid\": \"41\", \"name\": \"label\", \"type\": \"string\",\n"
	    "          \"access\": \"rw\", \"default\": \"desk\" },\n"
	    "        { \"rid\": \"42\", \"name\": \"auto off\", \"type\": \"timespan\",\n"
	    "          \"access\": \"rw\", \"units\": \"s\", \"default\": 0 } ] }\n"
	    "  ]\n"
	    "}\n");
	snprintf(temp_uri, sizeof(temp_uri), "%s/010/0001/0001/40", node.hid);
	snprintf(setp_uri, sizeof(setp_uri), "%s/010/0002/0001/40", node.hid);
	snprintf(switch_uri, sizeof(switch_uri), "%s/010/0003/0001/40", node.hid);
}

static void
start_sim(void)
{
	char path[512], log[600];
	char *argv[] = { path, "--config", sim_cfg, "--key", sim_key,
	    "--socket", node.sock, "--no-sandbox", NULL };

	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0, "start mobius-sim");
}

/*
 * Run the CLI through sh so stderr lands in out too; the arguments are
 * one shell command line after "mobius".  Returns the exit code.
 */
static int __attribute__((format(printf, 3, 4)))
mobius(char *out, size_t outlen, const char *fmt, ...)
{
	char path[512], args[1024], cmd[2048];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	va_list ap;

	th_path("bin/mobius", path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "exec '%s' %s 2>&1", path, args);
	if (out != NULL)
		out[0] = '\0';
	return th_run(argv, cli_env, out, outlen, 20000);
}

/* The node's services answer once the sim's description is retained. */
static void
wait_sim_ready(void)
{
	char out[OUT_MAX];
	int i, rc = -1;

	for (i = 0; i < 30; i++) {
		rc = mobius(out, sizeof(out), "--timeout 1 get %s", setp_uri);
		if (rc == 0)
			return;
		usleep(100 * 1000);
	}
	cr_assert_fail("mobius-sim never answered (last exit %d): %s", rc, out);
}

static void
node_setup(void)
{
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, SIM_ID, sim_key, sizeof(sim_key));
	th_node_add(&node, CLI_ID, cli_key, sizeof(cli_key));
	th_node_add(&node, CLI2_ID, cli2_key, sizeof(cli2_key));
	snprintf(env_sock, sizeof(env_sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(env_key, sizeof(env_key), "MOBIUS_KEY=%s", cli_key);
	write_sim_config(node.dir);
	start_sim();
	wait_sim_ready();
}

static void
node_teardown(void)
{
	if (sim.pid > 0)
		th_stop(&sim, SIGTERM, 3000);
	th_node_stop(&node);
}

/* Keys only (no hub): for errors found before or at connecting. */
static void
keys_setup(void)
{
	char dir[300], path[512], hid[8];
	char *argv[8];

	th_tmpdir(node.dir, sizeof(node.dir));
	snprintf(dir, sizeof(dir), "%s/keys", node.dir);
	snprintf(hid, sizeof(hid), "000001");
	th_path("bin/mobius-keytool", path, sizeof(path));
	argv[0] = path; argv[1] = "--dir"; argv[2] = dir; argv[3] = "init";
	argv[4] = "--hid"; argv[5] = hid; argv[6] = NULL;
	cr_assert_eq(th_run(argv, NULL, NULL, 0, 10000), 0, "keytool init");
	argv[3] = "add"; argv[4] = CLI_ID; argv[5] = NULL;
	cr_assert_eq(th_run(argv, NULL, NULL, 0, 10000), 0, "keytool add");
	snprintf(cli_key, sizeof(cli_key), "%s/0C1.key", dir);
	snprintf(node.sock, sizeof(node.sock), "%s/no-hub.sock", node.dir);
	snprintf(env_sock, sizeof(env_sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(env_key, sizeof(env_key), "MOBIUS_KEY=%s", cli_key);
}

static void
keys_teardown(void)
{
	th_rmtree(node.dir);
}

/* Lines of text, NULL-terminated array into buf (modified). */
static size_t
split_lines(char *buf, char **lines, size_t max)
{
	size_t n = 0;
	char *s = buf, *nl;

	while (*s != '\0' && n + 1 < max) {
		if ((nl = strchr(s, '\n')) != NULL)
			*nl = '\0';
		lines[n++] = s;
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	lines[n] = NULL;
	return n;
}

/* 1 once the file shows needle somewhere after marker (polls). */
static int
cov_after(const char *path, const char *marker, const char *needle,
    int timeout_ms)
{
	char *text = calloc(1, OUT_MAX);
	const char *m;
	size_t n;
	FILE *fp;
	int waited, found = 0;

	cr_assert_not_null(text);
	for (waited = 0; !found && waited <= timeout_ms; waited += 100) {
		if ((fp = fopen(path, "r")) != NULL) {
			n = fread(text, 1, OUT_MAX - 1, fp);
			text[n] = '\0';
			fclose(fp);
			found = (m = strstr(text, marker)) != NULL &&
			    strstr(m, needle) != NULL;
		}
		if (!found)
			usleep(100 * 1000);
	}
	free(text);
	return found;
}

static double
elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* --- no node needed ----------------------------------------------- */

Test(cli, help_is_shown_for_every_command, .init = keys_setup,
    .fini = keys_teardown)
{
	static const char *cmds[] = { "discover", "get", "set", "clear", "watch",
	    "status" };
	char out[OUT_MAX], main_help[OUT_MAX], want[64];
	size_t i;

	cr_assert_eq(mobius(out, sizeof(out), "--help"), 0);
	snprintf(main_help, sizeof(main_help), "%s", out);
	/* help about help is the overview too */
	cr_assert_eq(mobius(out, sizeof(out), "help --help"), 0, "%s", out);
	cr_assert_str_eq(out, main_help);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		cr_expect_not_null(strstr(out, cmds[i]), "main help lists %s", cmds[i]);
	cr_expect_not_null(strstr(out, "exit status"), "main help: %s", out);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(want, sizeof(want), "usage: mobius %s", cmds[i]);
		cr_expect_eq(mobius(out, sizeof(out), "%s --help", cmds[i]), 0);
		cr_expect_not_null(strstr(out, want), "%s --help: %s", cmds[i], out);
		cr_expect_not_null(strstr(out, "exit status"), "%s --help", cmds[i]);
		cr_expect_eq(mobius(out, sizeof(out), "help %s", cmds[i]), 0);
		cr_expect_not_null(strstr(out, want), "help %s: %s", cmds[i], out);
	}
}

Test(cli, usage_errors_exit_2, .init = keys_setup, .fini = keys_teardown)
{
	char out[OUT_MAX];

	cr_expect_eq(mobius(out, sizeof(out), "%s", ""), 2);
	cr_expect_eq(mobius(out, sizeof(out), "frobnicate"), 2);
	cr_expect_not_null(strstr(out, "frobnicate"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get --bogus 000001/010/0001/0001/40"), 2);
	cr_expect_not_null(strstr(out, "--bogus"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get"), 2);
	cr_expect_not_null(strstr(out, "URI missing"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set 000001/010/0002/0001/40"), 2);
	cr_expect_not_null(strstr(out, "VALUE missing"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set --priority 17 000001/010/0002/0001/40 1"), 2);
	cr_expect_not_null(strstr(out, "--priority"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "clear 000001/010/0002/0001/40"), 2);
	cr_expect_not_null(strstr(out, "--priority"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "watch --count 0"), 2);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout -1 discover"), 2);
	/* 3e10 ms does not fit an int: refused, not wrapped (it was UB) */
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 30000000 discover"), 2);
	cr_expect_eq(mobius(out, sizeof(out), "discover 000001/010/0001"), 2);
}

Test(cli, bad_uri_exits_2_naming_the_part, .init = keys_setup,
    .fini = keys_teardown)
{
	char out[OUT_MAX];

	cr_expect_eq(mobius(out, sizeof(out), "get 000001/01g/0001/0001/40"), 2);
	cr_expect_not_null(strstr(out, "SID"), "names the SID: %s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get 00001/010/0001/0001/40"), 2);
	cr_expect_not_null(strstr(out, "HID"), "names the HID: %s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set 000001/010/0001/0001/4 1"), 2);
	cr_expect_not_null(strstr(out, "RID"), "names the RID: %s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set 000001/010/0001/0001 1"), 2);
	cr_expect_not_null(strstr(out, "RID missing"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get 000001/010/0001"), 2);
	cr_expect_not_null(strstr(out, "give an object"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get 000001/+/0001/0001/40"), 2,
	    "no wildcards in get");
	cr_expect_eq(mobius(out, sizeof(out), "watch 000001/#/0001"), 2,
	    "# only last");
}

Test(cli, hub_not_running_exits_3_with_a_message, .init = keys_setup,
    .fini = keys_teardown)
{
	char out[OUT_MAX];

	cr_expect_eq(mobius(out, sizeof(out), "--timeout 1 get 000001/010/0001/0001/40"), 3);
	cr_expect_not_null(strstr(out, "no hub socket at"), "%s", out);
	cr_expect_not_null(strstr(out, node.sock), "names the socket: %s", out);
	cr_expect_not_null(strstr(out, "start mobius-hub"), "what to do: %s", out);
}

/* A loader's error is one precise line, not that line and a generic one. */
Test(cli, a_missing_key_file_is_one_line_naming_it, .init = keys_setup,
    .fini = keys_teardown)
{
	static const char *const progs[] = { "bin/mobius-sim",
	    "bin/mobius-modbus", "bin/mobius-gpio" };
	char out[OUT_MAX], path[512], key[600], cmd[2048], *lines[8];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	size_t i;

	snprintf(key, sizeof(key), "%s/missing.key", node.dir);
	/* a path that exists as the socket: the key is what is wrong */
	cr_expect_eq(mobius(out, sizeof(out), "--key %s --socket %s get "
	    "000001/010/0001/0001/40", key, node.dir), 1, "%s", out);
	cr_expect_eq(split_lines(out, lines, 8), 1, "one line: %s", out);
	cr_expect_not_null(strstr(lines[0], key), "names the file: %s", lines[0]);
	cr_expect_not_null(strstr(lines[0], "No such file"), "%s", lines[0]);
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		th_path(progs[i], path, sizeof(path));
		if (access(path, X_OK) != 0)
			continue;
		/* the key is loaded before the config is read */
		snprintf(cmd, sizeof(cmd), "exec '%s' --config /dev/null --key "
		    "'%s' --socket '%s' --no-sandbox 2>&1", path, key, node.sock);
		cr_expect_neq(th_run(argv, NULL, out, sizeof(out), 10000), 0);
		cr_expect_eq(split_lines(out, lines, 8), 1, "%s: one line: %s",
		    progs[i], out);
		cr_expect_not_null(strstr(lines[0], key), "%s", lines[0]);
	}
}

/*
 * No socket, a socket nobody listens on, a socket this user may not open:
 * three causes, three messages, each at once (--timeout 10 not waited).
 */
Test(cli, socket_errors_are_told_apart_at_once, .init = keys_setup,
    .fini = keys_teardown)
{
	char out[OUT_MAX], path[512], cmd[2048];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct sockaddr_un sa;
	struct timespec t0;
	int fd;

	/* a socket file left behind by a hub that is gone */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	cr_assert_lt(strlen(node.sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, node.sock, strlen(node.sock) + 1);
	cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s",
	    strerror(errno));
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 get "
	    "000001/010/0001/0001/40"), 3, "%s", out);
	cr_expect_not_null(strstr(out, "connection refused"), "%s", out);
	cr_expect_not_null(strstr(out, "start mobius-hub"), "%s", out);
	cr_expect_lt(elapsed_s(&t0), 5.0, "refused: at once");

	/* the same socket for a user outside its group */
	cr_assert_eq(chmod(node.sock, 0660), 0);
	cr_assert_eq(chmod(node.dir, 0755), 0);
	th_path("bin/mobius", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "exec setpriv --reuid=65534 --regid=65534 "
	    "--clear-groups '%s' --timeout 10 --socket '%s' get "
	    "000001/010/0001/0001/40 2>&1", path, node.sock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(th_run(argv, NULL, out, sizeof(out), 20000), 1, "%s", out);
	cr_expect_lt(elapsed_s(&t0), 5.0, "permission: at once");
	cr_expect_not_null(strstr(out, "permission denied"), "%s", out);
	cr_expect_not_null(strstr(out, "add yourself to group mobius"), "%s", out);
}

/* --- against a running node ---------------------------------------- */

/* Polls until the log has needle at least n times; 0 or -1. */
static int
wait_count(const char *log, const char *needle, int n, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (th_count_log(log, needle) >= n)
			return 0;
		usleep(50 * 1000);
	}
	return -1;
}

/*
 * A daemon pointed at the wrong socket says why at once, naming the path
 * and the cause, once per cause, and keeps retrying (its -v debug lines
 * count the attempts): no file there, then a socket nobody listens on.
 */
Test(cli, a_daemon_with_a_wrong_socket_says_why_at_once_and_retries,
    .timeout = 60)
{
	char path[512], log[600], sock[400], want[600];
	char *argv[] = { path, "--config", sim_cfg, "--key", sim_key,
	    "--socket", sock, "--no-sandbox", "-v", NULL };
	struct sockaddr_un sa;
	int fd;

	th_node_init(&node, MOB_MODE_HARDENED);
	th_node_add(&node, SIM_ID, sim_key, sizeof(sim_key));
	write_sim_config(node.dir);
	snprintf(sock, sizeof(sock), "%s/wrong.sock", node.dir);
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	th_path("bin/mobius-sim", path, sizeof(path));
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0);

	snprintf(want, sizeof(want), "no hub socket at %s (No such file or "
	    "directory): start mobius-hub, or give its socket with --socket; "
	    "retrying", sock);
	cr_assert_eq(th_wait_log(log, want, 10000), 0, "said at once");
	snprintf(want, sizeof(want), "connect to %s: No such file", sock);
	cr_assert_eq(wait_count(log, want, 3, 20000), 0, "retried");
	cr_expect_eq(th_count_log(log, "no hub socket at"), 1, "said once");

	/* bound, not listening: connect(2) is refused */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	cr_assert_lt(strlen(sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(want, sizeof(want), "the hub at %s refuses connections "
	    "(Connection refused): a socket is there but no mobius-hub "
	    "listens on it; retrying", sock);
	cr_expect_eq(th_wait_log(log, want, 15000), 0, "the new cause, at once");
	snprintf(want, sizeof(want), "connect to %s: Connection refused", sock);
	cr_expect_eq(wait_count(log, want, 2, 20000), 0, "retried");
	cr_expect_eq(th_count_log(log, "refuses connections"), 1, "said once");
	close(fd);
	th_stop(&sim, SIGTERM, 3000);
	sim.pid = 0;
	th_node_stop(&node);
}

TestSuite(cli_node, .init = node_setup, .fini = node_teardown, .timeout = 60);

Test(cli_node, discover_lists_the_sims_objects_and_resources)
{
	char out[OUT_MAX], svc[16];

	cr_assert_eq(mobius(out, sizeof(out), "discover"), 0, "%s", out);
	snprintf(svc, sizeof(svc), "%s/010", node.hid);
	cr_expect_not_null(strstr(out, "URI"), "header: %s", out);
	cr_expect_not_null(strstr(out, svc), "service row: %s", out);
	cr_expect_not_null(strstr(out, temp_uri), "%s", out);
	cr_expect_not_null(strstr(out, setp_uri), "%s", out);
	cr_expect_not_null(strstr(out, "thermostat"), "object name: %s", out);
	cr_expect_not_null(strstr(out, "setpoint"), "resource name: %s", out);
	cr_expect_not_null(strstr(out, "Cel"), "units: %s", out);
	cr_expect_not_null(strstr(out, "online"), "state: %s", out);

	cr_assert_eq(mobius(out, sizeof(out), "discover %s", svc), 0, "%s", out);
	cr_expect_not_null(strstr(out, switch_uri), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 1 discover %s/0FE",
	    node.hid), 3, "unknown service: %s", out);
}

Test(cli_node, discover_json_has_one_description_per_service)
{
	char out[OUT_MAX], *lines[64];
	cJSON *j;
	size_t n, i;
	int found = 0;

	cr_assert_eq(mobius(out, sizeof(out), "discover --json"), 0, "%s", out);
	n = split_lines(out, lines, 64);
	cr_assert_geq(n, 1);
	for (i = 0; i < n; i++) {
		j = cJSON_Parse(lines[i]);
		cr_assert_not_null(j, "line %zu parses: %s", i, lines[i]);
		if (strstr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")),
		    "/010") != NULL) {
			found = 1;
			cr_expect(cJSON_IsArray(cJSON_GetObjectItem(j, "objects")));
			cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j,
			    "objects")), 3);
		}
		cJSON_Delete(j);
	}
	cr_expect(found, "the sim is listed");
}

Test(cli_node, get_prints_the_value_with_units)
{
	char out[OUT_MAX];

	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0, "%s", out);
	cr_expect_str_eq(out, "20 Cel\n");
	cr_assert_eq(mobius(out, sizeof(out), "get %s", switch_uri), 0, "%s", out);
	cr_expect_str_eq(out, "false\n");
	cr_assert_eq(mobius(out, sizeof(out), "get --json %s", setp_uri), 0);
	{
		cJSON *j = cJSON_Parse(out);

		cr_assert_not_null(j, "json: %s", out);
		cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "value")), 20);
		cJSON_Delete(j);
	}
}

Test(cli_node, get_of_an_object_lists_its_resources)
{
	char out[OUT_MAX], uri[32], *line;

	snprintf(uri, sizeof(uri), "%s/010/0003/0001", node.hid);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", uri), 0, "%s", out);
	cr_expect_not_null(strstr(out, "light"), "object name: %s", out);
	cr_expect_not_null(strstr(out, "RID"), "header: %s", out);
	line = strstr(out, "\n40 ");
	cr_assert_not_null(line, "row of RID 40: %s", out);
	cr_expect(strstr(line, " on ") != NULL && strstr(line, " false ") != NULL &&
	    strstr(line, "online") != NULL, "row: %s", out);
}

Test(cli_node, set_then_get_returns_the_value)
{
	char out[OUT_MAX];

	cr_assert_eq(mobius(out, sizeof(out), "set %s 22.5", setp_uri), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0, "%s", out);
	cr_expect_str_eq(out, "22.5 Cel\n");
	cr_assert_eq(mobius(out, sizeof(out), "set %s on", switch_uri), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", switch_uri), 0, "%s", out);
	cr_expect_str_eq(out, "true\n");
}

Test(cli_node, set_priority_and_clear_decide_the_present_value)
{
	char out[OUT_MAX];

	cr_assert_eq(mobius(out, sizeof(out), "set %s 25", setp_uri), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "set --priority 8 %s 10", setp_uri),
	    0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0);
	cr_expect_str_eq(out, "10 Cel\n", "priority 8 wins over 16");
	cr_assert_eq(mobius(out, sizeof(out), "set %s 26 --priority 12", setp_uri),
	    0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0);
	cr_expect_str_eq(out, "10 Cel\n", "12 does not beat 8");
	cr_assert_eq(mobius(out, sizeof(out), "clear %s --priority 8", setp_uri),
	    0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0);
	cr_expect_str_eq(out, "26 Cel\n", "12 takes over once 8 is cleared");
	cr_assert_eq(mobius(out, sizeof(out), "clear -p 12 %s", setp_uri), 0);
	cr_assert_eq(mobius(out, sizeof(out), "clear --priority 16 %s", setp_uri), 0);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0);
	cr_expect_str_eq(out, "20 Cel\n", "the default when all are clear");
}

Test(cli_node, service_errors_are_plain_words_exit_1)
{
	char out[OUT_MAX];

	cr_expect_eq(mobius(out, sizeof(out), "set %s 99", setp_uri), 1, "%s", out);
	cr_expect_not_null(strstr(out, "out_of_range"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set %s 1", temp_uri), 1, "%s", out);
	cr_expect_not_null(strstr(out, "read_only"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get %s/010/0009/0001/40", node.hid),
	    1, "%s", out);
	cr_expect_not_null(strstr(out, "not_found"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set %s warm", setp_uri), 2,
	    "a word for a number is a usage error: %s", out);
	cr_expect_not_null(strstr(out, "number"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "set %s maybe", switch_uri), 2, "%s", out);
}

/*
 * The hub knows: an unknown service is refused by the hub, an offline one
 * is offline in the hub's retained presence, so neither waits for
 * --timeout.  The bound asserted is half the timeout given (a wait for the
 * timeout fails it); the issue's target (0.5 s) is printed, not asserted.
 */
Test(cli_node, request_to_an_offline_or_unknown_service_fails_at_once_with_exit_3)
{
	char out[OUT_MAX];
	struct timespec t0;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 get %s/0FE/0001/0001/40",
	    node.hid), 3, "%s", out);
	s = elapsed_s(&t0);
	cr_expect_lt(s, 5.0, "unknown service answered at once: %.3f s", s);
	cr_expect_not_null(strstr(out, "no service"), "the hub's reason: %s", out);
	cr_expect_not_null(strstr(out, "(not_found)"), "%s", out);
	fprintf(stderr, "get on an unknown service: exit 3 in %.3f s\n", s);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 set %s/0FE/0001/0001/40 1",
	    node.hid), 3, "%s", out);
	cr_expect_lt(elapsed_s(&t0), 5.0, "set on an unknown service at once");

	th_stop(&sim, SIGTERM, 3000);
	sim.pid = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "get --timeout 10 %s", setp_uri), 3,
	    "%s", out);
	s = elapsed_s(&t0);
	cr_expect_lt(s, 5.0, "offline service: at once, not after --timeout: "
	    "%.3f s", s);
	cr_expect_not_null(strstr(out, "is offline (disconnected)"),
	    "the hub's reason: %s", out);
	fprintf(stderr, "get on an offline service: exit 3 in %.3f s\n", s);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 set %s 21", setp_uri), 3,
	    "%s", out);
	cr_expect_lt(elapsed_s(&t0), 5.0, "set on an offline service at once");
	cr_expect_not_null(strstr(out, "is offline"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 get --senml %s",
	    setp_uri), 3, "%s", out);
}

/* Lines of log that contain needle. */
static int
count_in(const char *dir, const char *file, const char *needle)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return th_count_log(path, needle);
}

/*
 * Any number of `mobius` commands with one key at once: each run is its
 * own client id HID/SID/RUN (docs/hub.md, "Identities").  Before, two
 * runs with one key kicked each other out in a loop.
 */
Test(cli_node, one_key_runs_two_watches_and_a_get_at_once)
{
	char path[512], log1[600], log2[600], out[OUT_MAX];
	char *argv[] = { path, "watch", temp_uri, NULL };
	struct th_proc w1, w2;
	int n1, n2;

	th_path("bin/mobius", path, sizeof(path));
	snprintf(log1, sizeof(log1), "%s/watch1.log", node.dir);
	snprintf(log2, sizeof(log2), "%s/watch2.log", node.dir);
	cr_assert_eq(th_spawn(&w1, argv, cli_env, log1), 0);
	cr_assert_eq(th_spawn(&w2, argv, cli_env, log2), 0);
	cr_assert_eq(th_wait_log(log1, temp_uri, 10000), 0, "watch 1 prints");
	cr_assert_eq(th_wait_log(log2, temp_uri, 10000), 0, "watch 2 prints");
	cr_expect_eq(mobius(out, sizeof(out), "set %s 23", setp_uri), 0, "%s",
	    out);
	cr_expect_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0, "%s", out);
	cr_expect_not_null(strstr(out, "23"), "%s", out);
	/* both watches go on printing after the other commands came and went */
	n1 = th_count_log(log1, temp_uri);
	n2 = th_count_log(log2, temp_uri);
	cr_expect_eq(wait_count(log1, temp_uri, n1 + 2, 10000), 0);
	cr_expect_eq(wait_count(log2, temp_uri, n2 + 2, 10000), 0);
	th_stop(&w1, SIGTERM, 3000);
	th_stop(&w2, SIGTERM, 3000);
	cr_expect_eq(th_count_log(log1, "reconnect"), 0, "watch 1 never lost "
	    "the hub");
	cr_expect_eq(th_count_log(log2, "reconnect"), 0, "watch 2 never lost "
	    "the hub");
	cr_expect_eq(count_in(node.dir, "hub.log", "already connected"), 0,
	    "no run took another's place");
	cr_expect_geq(count_in(node.dir, "hub.log", "/0C1/"), 4,
	    "four runs, each its own client id");
}

/*
 * A service is one process: a second mobius-sim with the same key takes
 * over, and the first says so in one line and stops (not a loop: the hub
 * refuses the replaced process's return, docs/hub.md "Identities").
 */
Test(cli_node, a_second_daemon_with_the_same_key_stops_the_first)
{
	char path[512], log[600], want[64];
	char *argv[] = { path, "--config", sim_cfg, "--key", sim_key,
	    "--socket", node.sock, "--no-sandbox", NULL };
	struct th_proc sim2;
	int status;

	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim2.log", node.dir);
	cr_assert_eq(th_spawn(&sim2, argv, NULL, log), 0);
	/* signal 0 sends nothing: wait up to 20 s for the first to exit */
	status = th_stop(&sim, 0, 20000);
	sim.pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "the first sim exited non-zero (status %#x)", status);
	snprintf(want, sizeof(want), "another client logged in as %s/010",
	    node.hid);
	cr_expect_eq(count_in(node.dir, "sim.log", want), 1, "said once");
	/* it lost the link once and was refused: it never came back */
	cr_expect_eq(count_in(node.dir, "sim.log", "reconnected"), 0);
	cr_expect_eq(count_in(node.dir, "sim.log", "lost connection"), 1);
	/* the second one serves */
	wait_sim_ready();
	cr_expect_eq(count_in(node.dir, "sim2.log", "another client"), 0);
	th_stop(&sim2, SIGTERM, 3000);
}

/* runs_max bounds the runs of one key; the refusal says why. */
Test(cli_node, the_runs_of_one_key_are_bounded)
{
	static const char *const opts[] = { "runs_max=1", NULL };
	char path[512], log1[600], out[OUT_MAX];
	char *argv[] = { path, "watch", temp_uri, NULL };
	struct th_proc w1;
	int i, rc = -1;

	th_stop(&node.hub, SIGTERM, 3000);
	th_node_hub_start(&node, opts);
	wait_sim_ready();
	th_path("bin/mobius", path, sizeof(path));
	snprintf(log1, sizeof(log1), "%s/watch1.log", node.dir);
	cr_assert_eq(th_spawn(&w1, argv, cli_env, log1), 0);
	cr_assert_eq(th_wait_log(log1, temp_uri, 10000), 0, "watch prints");
	cr_expect_eq(mobius(out, sizeof(out), "get %s", setp_uri), 1, "%s", out);
	cr_expect_not_null(strstr(out, "runs_max"), "%s", out);
	cr_expect_geq(count_in(node.dir, "hub.log", "(runs_max 1)"), 1);
	th_stop(&w1, SIGTERM, 3000);
	/* the watch's disconnect frees its place (the hub sees it soon) */
	for (i = 0; i < 50 && rc != 0; i++) {
		rc = mobius(out, sizeof(out), "get %s", setp_uri);
		if (rc != 0)
			usleep(100 * 1000);
	}
	cr_expect_eq(rc, 0, "%s", out);
}

/*
 * Requests the hub refuses (its writers_ policy, the requester's quota of
 * pending requests) are answered at once by the hub, not after --timeout.
 */
Test(cli_node, requests_the_hub_refuses_are_reported_at_once)
{
	static const char *const opts[] = { "writers_010=0C2", "req_quota=1",
	    "remote_req=yes", NULL };
	char out[OUT_MAX];
	struct timespec t0;
	double s;
	int i;

	th_stop(&node.hub, SIGTERM, 3000);
	th_node_hub_start(&node, opts);
	/*
	 * Only presence is waited for: with a quota of 1, a request the sim
	 * misses while it logs in again would stay pending for req_ttl_ms.
	 */
	for (i = 0; i < 150; i++) {
		mobius(out, sizeof(out), "--timeout 1 discover --json %s/010",
		    node.hid);
		if (strstr(out, "\"state\":\"online\"") != NULL)
			break;
		usleep(100 * 1000);
	}
	cr_assert_not_null(strstr(out, "\"state\":\"online\""), "%s", out);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 set %s 21",
	    setp_uri), 1, "%s", out);
	s = elapsed_s(&t0);
	cr_expect_lt(s, 5.0, "refused at once, not after --timeout: %.3f s", s);
	cr_expect_not_null(strstr(out, "writers_010 policy"), "%s", out);
	cr_expect_not_null(strstr(out, "(denied)"), "%s", out);
	fprintf(stderr, "set refused by the writers_ policy: exit 1 in "
	    "%.3f s\n", s);

	/* a request to another node nobody answers stays pending (ttl 30 s) */
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 0.5 get "
	    "0000FE/010/0001/0001/40"), 3, "%s", out);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 10 get "
	    "0000FE/011/0001/0001/40"), 3, "%s", out);
	s = elapsed_s(&t0);
	cr_expect_lt(s, 5.0, "refused at once, not after --timeout: %.3f s", s);
	cr_expect_not_null(strstr(out, "req_quota"), "%s", out);
	cr_expect_not_null(strstr(out, "(busy)"), "%s", out);
	fprintf(stderr, "get over the requester's quota: exit 3 in %.3f s\n",
	    s);
}

/* Retained values of a stopped service: marked offline in all formats. */
Test(cli_node, a_stopped_services_values_come_out_offline_in_every_format)
{
	char out[OUT_MAX];
	cJSON *j, *rec;

	th_stop(&sim, SIGTERM, 3000);
	sim.pid = 0;
	cr_assert_eq(mobius(out, sizeof(out), "watch --count 1 --duration 5 %s",
	    setp_uri), 0, "%s", out);
	cr_expect_not_null(strstr(out, setp_uri), "the retained value: %s", out);
	cr_expect_not_null(strstr(out, "(offline)"), "text: %s", out);

	cr_assert_eq(mobius(out, sizeof(out), "watch --json --count 1 "
	    "--duration 5 %s 2>/dev/null", setp_uri), 0, "%s", out);
	cr_assert_not_null(j = cJSON_Parse(out), "%s", out);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")),
	    "offline", "json: %s", out);
	cJSON_Delete(j);

	cr_assert_eq(mobius(out, sizeof(out), "watch --senml --count 1 "
	    "--duration 5 %s 2>/dev/null", setp_uri), 0, "%s", out);
	cr_assert_not_null(j = cJSON_Parse(out), "%s", out);
	rec = cJSON_GetArrayItem(j, 0);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status_")),
	    "offline", "senml, must-understand label: %s", out);
	cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(rec, "v")), "%s", out);
	cJSON_Delete(j);
}

/* A running watch prints the last values again, marked, at the stop. */
Test(cli_node, a_live_watch_marks_the_last_values_offline_when_the_service_stops)
{
	char path[512], log[600], filter[32];
	char *argv[] = { path, "watch", "--json", filter, NULL };
	struct th_proc w;

	snprintf(filter, sizeof(filter), "%s/010/0002/#", node.hid);
	th_path("bin/mobius", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/watch.log", node.dir);
	cr_assert_eq(th_spawn(&w, argv, cli_env, log), 0);
	cr_assert_eq(th_wait_log(log, "\"status\":\"online\"", 5000), 0,
	    "live value first");
	th_stop(&sim, SIGTERM, 3000);
	sim.pid = 0;
	cr_expect_eq(th_wait_log(log, "\"status\":\"offline\"", 5000), 0,
	    "the last value again, offline");
	th_stop(&w, SIGTERM, 3000);
}

Test(cli_node, get_senml_prints_one_pack)
{
	char out[OUT_MAX], obj[32];
	cJSON *j, *rec;

	cr_assert_eq(mobius(out, sizeof(out), "get --senml %s", setp_uri), 0,
	    "%s", out);
	cr_assert_not_null(j = cJSON_Parse(out), "%s", out);
	cr_assert_eq(cJSON_GetArraySize(j), 1, "%s", out);
	rec = cJSON_GetArrayItem(j, 0);
	cr_expect_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "v")), 20.0,
	    "%s", out);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "u")),
	    "Cel", "%s", out);
	cr_expect_null(cJSON_GetObjectItem(rec, "status_"), "live: %s", out);
	cJSON_Delete(j);

	snprintf(obj, sizeof(obj), "%s/010/0003/0001", node.hid);
	cr_assert_eq(mobius(out, sizeof(out), "get --senml %s", obj), 0, "%s", out);
	cr_assert_not_null(j = cJSON_Parse(out), "%s", out);
	cr_expect_eq(cJSON_GetArraySize(j), 3, "one record per resource: %s", out);
	cr_expect(cJSON_IsBool(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "vb")) ||
	    cJSON_IsBool(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "vb")),
	    "the switch in vb: %s", out);
	cJSON_Delete(j);
	cr_expect_eq(mobius(out, sizeof(out), "get --senml --json %s", obj), 2,
	    "%s", out);
}

Test(cli_node, status_prints_the_hubs_signed_counters)
{
	char out[OUT_MAX], want[32];
	cJSON *j;

	cr_assert_eq(mobius(out, sizeof(out), "status"), 0, "%s", out);
	snprintf(want, sizeof(want), "hub %s/000", node.hid);
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_expect_not_null(strstr(out, "logins_ok"), "%s", out);
	cr_expect_not_null(strstr(out, "verified"), "%s", out);
	cr_expect_not_null(strstr(out, "keyring.generation"), "nested: %s", out);
	cr_assert_eq(mobius(out, sizeof(out), "status --json"), 0, "%s", out);
	cr_assert_not_null(j = cJSON_Parse(out), "%s", out);
	cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(j, "clients")), "%s", out);
	/* the counters are as of the hub's last stats tick (10 s) */
	cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(j, "logins_ok")), "%s", out);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")),
	    "online", "%s", out);
	cJSON_Delete(j);
}

/* One grammar: decimal numbers, timespans with keytool's units. */
Test(cli_node, values_typed_follow_one_grammar)
{
	char out[OUT_MAX], span[32];
	static const char *const bad[] = { "0x10", "inf", "nan", "' 1'", "+1",
	    "1e", "1,5" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(mobius(out, sizeof(out), "set %s %s", setp_uri,
		    bad[i]), 2, "%s refused: %s", bad[i], out);
		cr_expect_not_null(strstr(out, "decimal number"), "%s", out);
	}
	cr_expect_eq(mobius(out, sizeof(out), "set %s 1e1", setp_uri), 0, "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get %s", setp_uri), 0);
	cr_expect_str_eq(out, "10 Cel\n");
	snprintf(span, sizeof(span), "%s/010/0003/0001/42", node.hid);
	cr_expect_eq(mobius(out, sizeof(out), "set %s 1h", span), 0, "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get %s", span), 0);
	cr_expect_str_eq(out, "3600 s\n", "1h is 3600 s");
	cr_expect_eq(mobius(out, sizeof(out), "set %s 1.5m", span), 0, "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "get %s", span), 0);
	cr_expect_str_eq(out, "90 s\n");
	cr_expect_eq(mobius(out, sizeof(out), "set %s 1w", span), 2, "%s", out);
	cr_expect_not_null(strstr(out, "15m, 1h"), "%s", out);
	cr_expect_eq(mobius(out, sizeof(out), "--timeout 1m get %s", span), 0,
	    "--timeout takes the same timespans: %s", out);
}

/*
 * Real `mosquitto_sub -v` output (retained and live messages of the sim
 * and the hub) through `mobius-keytool verify --stream`: each line is
 * verified and printed, a broken line is named by its number and the
 * rest go on.  The wire itself writes seq (microseconds, 16 digits) as an
 * integer, digit for digit (cJSON alone printed 1.79617351760713e+15).
 */
Test(cli_node, keytool_verify_stream_checks_each_mosquitto_sub_line)
{
	char tool[512], tok[1024], msgs[OUT_MAX], out[OUT_MAX], path[600];
	char cmd[2048], id[16], *lines[64], *dot, *end, *p;
	char *targv[] = { tool, "--dir", node.keys, "token", CLI_ID, NULL };
	char *sub[] = { "/usr/bin/mosquitto_sub", "--unix", node.sock, "-i", id,
	    "-u", CLI_ID, "-P", tok, "-v", "-t", "mob/cov/#", "-t", "mob/obj/#",
	    "-t", "mob/state/#", "-C", "12", "-W", "20", NULL };
	char *sh[] = { "/bin/sh", "-c", cmd, NULL };
	uint8_t claims[4096];
	char want[64];
	size_t n, i, f, clen, good = 0;
	FILE *fp;

	snprintf(id, sizeof(id), "%s/0C1", node.hid);
	th_path("bin/mobius-keytool", tool, sizeof(tool));
	cr_assert_eq(th_run(targv, NULL, tok, sizeof(tok), 20000), 0, "%s", tok);
	tok[strcspn(tok, "\n")] = '\0';
	cr_assert_eq(th_run(sub, NULL, msgs, sizeof(msgs), 30000), 0, "%s", msgs);
	n = split_lines(msgs, lines, 64);
	cr_assert_geq(n, 12, "%s", msgs);

	/* every seq on the wire is an integer: digits only, all 16 of them */
	for (i = 0; i < n; i++) {
		cr_assert_not_null(p = strchr(lines[i], ' '), "%s", lines[i]);
		cr_assert_not_null(dot = strchr(p + 1, '.'), "%s", lines[i]);
		cr_assert_not_null(end = strchr(dot + 1, '.'), "%s", lines[i]);
		cr_assert_eq(mob_b64url_decode(dot + 1, (size_t)(end - dot - 1),
		    claims, sizeof(claims) - 1, &clen), 0, "%s", lines[i]);
		claims[clen] = '\0';
		cr_assert_not_null(p = strstr((char *)claims, "\"seq\":"),
		    "%s", claims);
		p += 6;
		cr_expect_eq(strspn(p, "0123456789"), 16, "seq %s", claims);
		cr_expect(p[16] == ',' || p[16] == '}', "seq %s", claims);
	}

	/*
	 * The hub's state (EdDSA) gets a forged signature, and a line of
	 * garbage goes in as line 6.  (A service's session MAC, HS256 in
	 * hardened mode, only the hub can check: alg=HS256(hub).)
	 */
	for (f = 0; f < n && strncmp(lines[f], "mob/state/", 10) != 0; f++)
		;
	cr_assert_lt(f, n, "no state line: %s", msgs);
	p = strrchr(lines[f], '.');
	p[5] = p[5] == 'A' ? 'B' : 'A';
	snprintf(want, sizeof(want), "line %zu: mob/state/", f + (f > 4 ? 2 : 1));
	snprintf(path, sizeof(path), "%s/sub.txt", node.dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	for (i = 0; i < n; i++)
		fprintf(fp, "%s\n%s", lines[i], i == 4 ? "garbage\n" : "");
	cr_assert_eq(fclose(fp), 0);
	snprintf(cmd, sizeof(cmd), "exec '%s' --dir '%s' verify --stream "
	    "< '%s' 2>&1", tool, node.keys, path);
	cr_expect_eq(th_run(sh, NULL, out, sizeof(out), 20000), 1, "%s", out);
	cr_expect_not_null(strstr(out, want), "%s: %s", want, out);
	cr_expect_not_null(strstr(out, "invalid message: signature does not "
	    "verify (bad_signature)"), "%s", out);
	cr_expect_not_null(strstr(out, "line 6: garbage: no payload"), "%s", out);
	cr_expect_not_null(strstr(out, "2 of 13 lines did not verify"), "%s", out);
	for (p = out; (p = strstr(p, " iss=")) != NULL; p++)
		good++;
	cr_expect_eq(good, n - 1, "every other line verified: %s", out);
	cr_expect_not_null(strstr(out, "alg=EdDSA"), "the hub's state: %s", out);
	cr_expect_not_null(strstr(out, "alg=HS256(hub)"), "session MACs: %s",
	    out);
	cr_expect_not_null(strstr(out, " dat={"), "%s", out);
}

/*
 * A key of another of Mobius's profiles given to a daemon (the CLI's
 * 00C1 to mobius-sim, whose keys are 0010) runs as that identity: one
 * warning line names both SPIDs.  The sim's own key gives none.
 */
Test(cli_node, a_daemon_warns_once_when_its_key_is_another_profiles)
{
	struct th_proc p = { 0 };
	char path[512], log[600];
	char *argv[] = { path, "--config", sim_cfg, "--key", cli2_key,
	    "--socket", node.sock, "--no-sandbox", NULL };

	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim-cli-key.log", node.dir);
	cr_assert_eq(th_spawn(&p, argv, NULL, log), 0);
	cr_expect_eq(th_wait_log(log, "SPID 00C1 (the mobius CLI), not "
	    "mobius-sim's SPID 0010", 20000), 0, "no warning in %s", log);
	th_stop(&p, SIGTERM, 3000);
	cr_expect_eq(th_count_log(log, "warning:"), 1, "one line");
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_expect_eq(th_count_log(log, "SPID"), 0, "the sim's own key: none");
}

Test(cli_node, watch_prints_one_cov_line_each)
{
	char out[OUT_MAX], *lines[64];
	size_t n, i, temp = 0;

	cr_assert_eq(mobius(out, sizeof(out), "watch --count 8"), 0, "%s", out);
	n = split_lines(out, lines, 64);
	cr_assert_eq(n, 8, "8 lines");
	for (i = 0; i < n; i++) {
		/* 2026-11-22T02:50:01.123Z  URI  name  value [units] */
		cr_expect(strlen(lines[i]) > 26 && lines[i][10] == 'T' &&
		    lines[i][23] == 'Z', "time first: %s", lines[i]);
		if (strstr(lines[i], temp_uri) != NULL) {
			temp++;
			cr_expect_not_null(strstr(lines[i], "temperature"), "%s", lines[i]);
			cr_expect_not_null(strstr(lines[i], " Cel"), "%s", lines[i]);
		}
	}
	cr_expect_geq(temp, 4, "the drifting temperature dominates");

	cr_assert_eq(mobius(out, sizeof(out), "watch --count 3 %s/+/0001/+/40",
	    node.hid), 0, "%s", out);
	n = split_lines(out, lines, 64);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++)
		cr_expect_not_null(strstr(lines[i], temp_uri), "filtered: %s", lines[i]);
}

Test(cli_node, watch_shows_a_write_made_meanwhile)
{
	char out[OUT_MAX], path[512], log[600], filter[32];
	char *argv[] = { path, "watch", filter, NULL };
	char *env[] = { env_sock, NULL, NULL };
	char key2[600];
	struct th_proc w;

	/* Two CLIs at once need two identities (one connection each). */
	snprintf(key2, sizeof(key2), "MOBIUS_KEY=%s", cli2_key);
	env[1] = key2;
	snprintf(filter, sizeof(filter), "%s/010/0002/#", node.hid);
	th_path("bin/mobius", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/watch.log", node.dir);
	cr_assert_eq(th_spawn(&w, argv, env, log), 0);
	cr_assert_eq(th_wait_log(log, setp_uri, 5000), 0, "retained value shown");
	cr_assert_eq(mobius(out, sizeof(out), "set %s 17.25", setp_uri), 0, "%s", out);
	cr_expect_eq(th_wait_log(log, "17.25 Cel", 5000), 0, "change shown");
	th_stop(&w, SIGINT, 3000);
}

Test(cli_node, watch_reports_a_service_going_offline_and_back)
{
	char path[512], log[600], want[64];
	char *argv[] = { path, "watch", temp_uri, NULL };
	struct th_proc w;

	th_path("bin/mobius", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/watch.log", node.dir);
	cr_assert_eq(th_spawn(&w, argv, cli_env, log), 0);
	cr_assert_eq(th_wait_log(log, temp_uri, 5000), 0);
	th_stop(&sim, SIGTERM, 3000);
	snprintf(want, sizeof(want), "service %s/010 is offline", node.hid);
	cr_expect_eq(th_wait_log(log, want, 5000), 0, "offline reported");
	start_sim();
	snprintf(want, sizeof(want), "service %s/010 is online", node.hid);
	cr_expect_eq(th_wait_log(log, want, 10000), 0, "back online reported");
	th_stop(&w, SIGTERM, 3000);
}

Test(cli_node, watch_json_lines_parse_with_the_fields)
{
	char out[OUT_MAX], *lines[64];
	size_t n, i;
	cJSON *j;

	cr_assert_eq(mobius(out, sizeof(out), "watch --json --count 5 %s",
	    temp_uri), 0, "%s", out);
	n = split_lines(out, lines, 64);
	cr_assert_eq(n, 5);
	for (i = 0; i < n; i++) {
		j = cJSON_Parse(lines[i]);
		cr_assert_not_null(j, "parses: %s", lines[i]);
		cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "uri")),
		    temp_uri);
		cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")),
		    "temperature");
		cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "units")),
		    "Cel");
		cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(j, "value")), "%s", lines[i]);
		cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(j, "t")), "%s", lines[i]);
		cr_expect(cJSON_IsString(cJSON_GetObjectItem(j, "time")), "%s", lines[i]);
		cJSON_Delete(j);
	}
}

Test(cli_node, watch_senml_lines_are_rfc8428_packs)
{
	char out[OUT_MAX], *lines[64], name[64];
	size_t n, i;
	cJSON *pack, *rec;
	double t;

	cr_assert_eq(mobius(out, sizeof(out), "watch --senml --count 4 %s/+/+/+/40",
	    node.hid), 0, "%s", out);
	n = split_lines(out, lines, 64);
	cr_assert_eq(n, 4);
	for (i = 0; i < n; i++) {
		pack = cJSON_Parse(lines[i]);
		cr_assert(cJSON_IsArray(pack), "a pack: %s", lines[i]);
		cr_assert_eq(cJSON_GetArraySize(pack), 1);
		rec = cJSON_GetArrayItem(pack, 0);
		/* Resolved name = bn + n: the full resource URI. */
		cr_assert(cJSON_IsString(cJSON_GetObjectItem(rec, "bn")));
		cr_assert(cJSON_IsString(cJSON_GetObjectItem(rec, "n")));
		snprintf(name, sizeof(name), "%s%s",
		    cJSON_GetStringValue(cJSON_GetObjectItem(rec, "bn")),
		    cJSON_GetStringValue(cJSON_GetObjectItem(rec, "n")));
		cr_expect(strncmp(name, node.hid, 6) == 0 && strlen(name) == 23,
		    "name %s", name);
		/* Exactly one value field, of the resource's type. */
		cr_expect_eq(!!cJSON_GetObjectItem(rec, "v") +
		    !!cJSON_GetObjectItem(rec, "vb") +
		    !!cJSON_GetObjectItem(rec, "vs"), 1, "%s", lines[i]);
		if (strcmp(name, temp_uri) == 0 || strcmp(name, setp_uri) == 0) {
			cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(rec, "v")));
			cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec,
			    "u")), "Cel");
		}
		if (strcmp(name, switch_uri) == 0)
			cr_expect(cJSON_IsBool(cJSON_GetObjectItem(rec, "vb")));
		/* t: seconds since the epoch, not milliseconds. */
		t = cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "t"));
		cr_expect(t > 1.6e9 && t < 1e10, "t %f", t);
		cJSON_Delete(pack);
	}
}

Test(cli_node, watch_senml_puts_text_in_vs_and_json_keeps_its_type)
{
	char out[OUT_MAX], uri[32];
	cJSON *j, *rec;

	snprintf(uri, sizeof(uri), "%s/010/0003/0001/41", node.hid);
	cr_assert_eq(mobius(out, sizeof(out), "set %s \"12 o'clock\"", uri), 0,
	    "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "watch --senml --count 1 %s", uri),
	    0, "%s", out);
	j = cJSON_Parse(out);
	cr_assert(cJSON_IsArray(j), "%s", out);
	rec = cJSON_GetArrayItem(j, 0);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "vs")),
	    "12 o'clock", "a string stays text even when it starts with digits");
	cr_expect_null(cJSON_GetObjectItem(rec, "u"), "no units, no u");
	cJSON_Delete(j);
	cr_assert_eq(mobius(out, sizeof(out), "watch --json --count 1 %s", uri),
	    0, "%s", out);
	j = cJSON_Parse(out);
	cr_assert_not_null(j, "%s", out);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "value")),
	    "12 o'clock");
	cr_expect_null(cJSON_GetObjectItem(j, "units"));
	cJSON_Delete(j);
	cr_assert_eq(mobius(out, sizeof(out), "set %s 42", uri), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get --json %s", uri), 0, "%s", out);
	j = cJSON_Parse(out);
	cr_assert_not_null(j, "%s", out);
	cr_expect(cJSON_IsString(cJSON_GetObjectItem(j, "value")),
	    "\"42\" written as text to a string resource: %s", out);
	cJSON_Delete(j);
}

Test(cli_node, watch_resumes_after_the_hub_restarts)
{
	char path[512], log[600];
	char *argv[] = { path, "watch", temp_uri, NULL };
	struct th_proc w;

	th_path("bin/mobius", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/watch.log", node.dir);
	cr_assert_eq(th_spawn(&w, argv, cli_env, log), 0);
	cr_assert_eq(th_wait_log(log, temp_uri, 5000), 0);

	th_stop(&node.hub, SIGTERM, 3000);
	unlink(node.sock);
	cr_assert_eq(th_wait_log(log, "reconnecting", 5000), 0);
	th_node_hub_start(&node, NULL);
	cr_assert_eq(th_wait_log(log, "reconnected", 15000), 0, "watch reconnects");

	/* A COV line printed after the reconnection. */
	cr_expect(cov_after(log, "reconnected", temp_uri, 5000),
	    "COV after reconnecting");
	th_stop(&w, SIGTERM, 3000);
}

/* --- a service too big for its retained description ---------------- */

#define BIG_OBJECTS	300

/*
 * 300 objects do not fit one message under the hub's cap: mob/svc lists
 * objects without resources ("truncated"), so clients page through
 * discover requests for the rest (docs/services.md).
 */
static void
big_setup(void)
{
	FILE *fp;
	int i;

	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, SIM_ID, sim_key, sizeof(sim_key));
	th_node_add(&node, CLI_ID, cli_key, sizeof(cli_key));
	snprintf(env_sock, sizeof(env_sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(env_key, sizeof(env_key), "MOBIUS_KEY=%s", cli_key);
	snprintf(sim_cfg, sizeof(sim_cfg), "%s/big.json", node.dir);
	cr_assert_not_null(fp = fopen(sim_cfg, "w"));
	fprintf(fp, "{ \"name\": \"big\", \"objects\": [\n");
	for (i = 1; i <= BIG_OBJECTS; i++)
		fprintf(fp, "%s{ \"pid\": \"0A00\", \"ins\": \"%04X\", "
		    "\"name\": \"tank number %d of the big plant\", "
		    "\"resources\": [ { \"rid\": \"40\", \"name\": \"level %d\", "
		    "\"type\": \"number\", \"access\": \"rw\", \"units\": \"Cel\", "
		    "\"default\": %d } ] }\n", i > 1 ? "," : "", i, i, i, i);
	fprintf(fp, "] }\n");
	cr_assert_eq(fclose(fp), 0);
	snprintf(setp_uri, sizeof(setp_uri), "%s/010/0A00/%04X/40", node.hid,
	    BIG_OBJECTS);
	start_sim();
	wait_sim_ready();
}

Test(cli_big, discover_and_watch_fetch_a_truncated_description,
    .init = big_setup, .fini = node_teardown, .timeout = 60)
{
	char out[OUT_MAX], *line, want[64];

	cr_assert_eq(mobius(out, sizeof(out), "discover"), 0, "%s", out);
	line = strstr(out, setp_uri);
	cr_assert_not_null(line, "the last resource is listed: %.2000s", out);
	snprintf(want, sizeof(want), "level %d", BIG_OBJECTS);
	cr_expect(strstr(line, want) != NULL && strstr(line, "Cel") != NULL,
	    "with name and units: %.80s", line);
	cr_assert_eq(mobius(out, sizeof(out), "watch --count 1 %s", setp_uri),
	    0, "%s", out);
	cr_expect_not_null(strstr(out, want), "watch names it: %s", out);
	cr_expect_not_null(strstr(out, "300 Cel"), "%s", out);
}

/* --- make run ------------------------------------------------------ */

/* 1 if a live process has needle in its command line. */
static int
process_with(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], buf[4096];
	ssize_t n, i;
	int fd, found = 0;

	cr_assert_not_null(d);
	while (!found && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		found = strstr(buf, needle) != NULL;
	}
	closedir(d);
	return found;
}

Test(cli, make_run_script_shows_cov_and_leaves_nothing_behind, .timeout = 60)
{
	char dir[256], build[512], tmpenv[300], portenv[64], out[OUT_MAX];
	char *env[] = { tmpenv, portenv, "MOBIUS_RUN_SECONDS=5", NULL };
	char *lines[512];
	char *argv[] = { "scripts/run-node.sh", build, NULL };
	const char *b = getenv("MOBIUS_BUILD");
	size_t n, i, cov = 0;
	int rc;

	if (access("scripts/run-node.sh", X_OK) != 0)
		cr_skip_test("run from the source tree (scripts/run-node.sh)");
	snprintf(build, sizeof(build), "%s", b != NULL && *b != '\0' ? b : "build");
	th_tmpdir(dir, sizeof(dir));
	snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", dir);
	/* The simulated Modbus device, when mobius-modbus is built. */
	snprintf(portenv, sizeof(portenv), "MOBIUS_MODBUS_PORT=%d", th_free_port());
	rc = th_run(argv, env, out, sizeof(out), 45000);
	cr_expect_eq(rc, 0, "exit code: %s", out);
	cr_expect_not_null(strstr(out, "export MOBIUS_SOCKET="), "banner: %s", out);
	cr_expect_not_null(strstr(out, "export MOBIUS_KEY="), "banner: %s", out);
	cr_expect_not_null(strstr(out, " reload --state "), "banner: keytool "
	    "reload: %s", out);
	n = split_lines(out, lines, 512);
	for (i = 0; i < n; i++)
		if (strlen(lines[i]) > 26 && lines[i][10] == 'T' &&
		    lines[i][23] == 'Z' && strstr(lines[i], "000001/") != NULL)
			cov++;
	cr_expect_geq(cov, 3, "COV lines in: %s", out);
	cr_expect(!process_with(dir), "a process was left behind");
	cr_expect_eq(rmdir(dir), 0, "the node's directory is gone: %s",
	    strerror(errno));
}

/* Real uids of the daemons (mosquitto, mobius-*) whose command line has needle. */
static size_t
daemon_uids(const char *needle, unsigned *uids, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], buf[4096], *u;
	size_t n = 0;
	ssize_t len;
	int fd;

	cr_assert_not_null(d);
	while (n < max && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, needle) == NULL)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[len > 0 ? len : 0] = '\0';
		/* the daemons by name: not a shell or env on its way to exec */
		if (strncmp(buf, "Name:\tmosquitto\n", 16) != 0 &&
		    strncmp(buf, "Name:\tmobius-", 13) != 0)
			continue;
		if ((u = strstr(buf, "\nUid:\t")) != NULL)
			uids[n++] = (unsigned)strtoul(u + 6, NULL, 10);
	}
	closedir(d);
	return n;
}

/*
 * make run as root confines every daemon as a uid of its own, so that
 * the kernel stops one from signalling another (issue 10: from inside the
 * sim's profile F_SETOWN + SIGKILL killed other daemons, all "nobody").
 */
Test(cli, make_run_gives_every_daemon_its_own_uid, .timeout = 60)
{
	char dir[256], build[512], tmpenv[300], portenv[64], apienv[64], log[300];
	char *env[] = { tmpenv, portenv, apienv, "MOBIUS_RUN_SECONDS=6", NULL };
	char *argv[] = { "scripts/run-node.sh", build, NULL };
	const char *b = getenv("MOBIUS_BUILD");
	unsigned uids[16];
	struct th_proc p;
	size_t n;

	if (access("scripts/run-node.sh", X_OK) != 0)
		cr_skip_test("run from the source tree (scripts/run-node.sh)");
	if (geteuid() != 0)
		cr_skip_test("needs root: as a user every daemon keeps the caller's uid");
	snprintf(build, sizeof(build), "%s", b != NULL && *b != '\0' ? b : "build");
	if (strlen(build) >= 3 && strcmp(build + strlen(build) - 3, "san") == 0)
		cr_skip_test("a SAN make run as root starts the daemons unconfined");
	th_tmpdir(dir, sizeof(dir));
	snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", dir);
	snprintf(portenv, sizeof(portenv), "MOBIUS_MODBUS_PORT=%d", th_free_port());
	snprintf(apienv, sizeof(apienv), "MOBIUS_API_PORT=%d", th_free_port());
	snprintf(log, sizeof(log), "%s.log", dir);
	cr_assert_eq(th_spawn(&p, argv, env, log), 0);
	cr_assert_eq(th_wait_log(log, "Ctrl-C stops the node", 30000), 0);
	/* a daemon is root until its sandbox phase: wait for them all */
	for (int tries = 0; tries < 100; tries++) {
		size_t root = 0;

		n = daemon_uids(dir, uids, 16);
		for (size_t i = 0; i < n; i++)
			root += uids[i] == 0;
		if (n >= 2 && root == 0)
			break;
		usleep(100 * 1000);
	}
	cr_expect_geq(n, 2, "at least the hub and the sim");
	for (size_t i = 0; i < n; i++) {
		cr_expect_neq(uids[i], 0, "a daemon runs as root");
		for (size_t j = 0; j < i; j++)
			cr_expect_neq(uids[i], uids[j], "two daemons share uid %u",
			    uids[i]);
	}
	th_stop(&p, 0, 30000);
	unlink(log);
	th_rmtree(dir);
}

Test(cli, make_run_script_stops_everything_on_ctrl_c, .timeout = 60)
{
	char dir[256], build[512], tmpenv[300], portenv[64], log[300];
	char *env[] = { tmpenv, portenv, NULL };
	char *argv[] = { "scripts/run-node.sh", build, NULL };
	const char *b = getenv("MOBIUS_BUILD");
	struct th_proc p;
	int st;

	if (access("scripts/run-node.sh", X_OK) != 0)
		cr_skip_test("run from the source tree (scripts/run-node.sh)");
	snprintf(build, sizeof(build), "%s", b != NULL && *b != '\0' ? b : "build");
	th_tmpdir(dir, sizeof(dir));
	snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", dir);
	snprintf(portenv, sizeof(portenv), "MOBIUS_MODBUS_PORT=%d", th_free_port());
	/* The log lives outside dir, which must end up empty. */
	snprintf(log, sizeof(log), "%s.log", dir);
	cr_assert_eq(th_spawn(&p, argv, env, log), 0);
	cr_assert_eq(th_wait_log(log, "/0101/0001/40  temperature", 20000), 0,
	    "the watch runs");
	cr_expect(process_with(dir), "the node runs");
	st = th_stop(&p, SIGINT, 10000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 130,
	    "the script exits 130 on SIGINT (status %#x)", st);
	cr_expect_eq(th_wait_log(log, "node stopped", 1), 0);
	cr_expect(!process_with(dir), "a process was left behind");
	cr_expect_eq(rmdir(dir), 0, "the node's directory is gone: %s",
	    strerror(errno));
	unlink(log);
}
