/*
 * Faults: a service killed and restarted keeps what operators commanded
 * (lib/rt/mobius/persist.h, docs/services.md "What persists").  The real
 * node: mobius-hub with our plugin, mobius-sim (kill -9, restart), and
 * the CLI for writes and reads; the state directory is given the systemd
 * way, STATE_DIRECTORY.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

#include <cJSON.h>

#include "mobius/keyring.h"
#include "support/harness.h"

#define SIM_ID		"0010/010"
#define CLI_ID		"00C1/0C1"
#define OUT_MAX		65536

static struct th_node node;
static struct th_proc sim;
static char cli_key[512], sim_key[512], sim_cfg[512], state[512], slots[600];
static char env_sock[600], env_key[600], env_state[600];
static char *cli_env[] = { env_sock, env_key, NULL };
static char setp[32], label[32], light[32];

static int sandboxed;		/* start the sim confined, as nobody */

static void
start_sim(void)
{
	char *env[] = { env_state, "MOBIUS_SANDBOX_USER=nobody", NULL };

	th_sim_start(&sim, &node, sim_cfg, sim_key, env, sandboxed);
}

#define mobius(out, outlen, ...)	th_cli(cli_env, out, outlen, __VA_ARGS__)

static void
wait_sim_ready(void)
{
	char out[OUT_MAX];
	int rc = -1;

	for (int i = 0; i < 50; i++) {
		if ((rc = mobius(out, sizeof(out), "--timeout 1 get %s", setp)) == 0)
			return;
		usleep(100 * 1000);
	}
	{
		char log[600], text[4096] = "";
		FILE *f;
		size_t n;

		snprintf(log, sizeof(log), "%s/sim.log", node.dir);
		if ((f = fopen(log, "r")) != NULL) {
			n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = '\0';
			fclose(f);
		}
		cr_assert_fail("mobius-sim never answered (last exit %d): %s\n"
		    "sim.log:\n%s", rc, out, text);
	}
}

/* The "priority" array of uri, as JSON text (16 slots). */
static void
prio_of(const char *uri, char *out, size_t len)
{
	char buf[OUT_MAX], *t;
	cJSON *j;

	cr_assert_eq(mobius(buf, sizeof(buf), "get --json %s", uri), 0, "%s", buf);
	cr_assert_not_null(j = cJSON_Parse(buf), "json: %s", buf);
	cr_assert_not_null(t = cJSON_PrintUnformatted(
	    cJSON_GetObjectItem(j, "priority")), "no priority: %s", buf);
	snprintf(out, len, "%s", t);
	free(t);
	cJSON_Delete(j);
}

static void
setup(void)
{
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, SIM_ID, sim_key, sizeof(sim_key));
	th_node_add(&node, CLI_ID, cli_key, sizeof(cli_key));
	snprintf(env_sock, sizeof(env_sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(env_key, sizeof(env_key), "MOBIUS_KEY=%s", cli_key);
	snprintf(state, sizeof(state), "%s/simstate", node.dir);
	cr_assert_eq(mkdir(state, 0700), 0);
	snprintf(slots, sizeof(slots), "%s/slots.json", state);
	snprintf(env_state, sizeof(env_state), "STATE_DIRECTORY=%s", state);
	snprintf(sim_cfg, sizeof(sim_cfg), "%s/sim.json", node.dir);
	th_write_file(sim_cfg,
	    "{ \"objects\": [\n"
	    "  { \"pid\": \"0001\", \"ins\": \"0001\", \"name\": \"room\",\n"
	    "    \"resources\": [\n"
	    "      { \"rid\": \"40\", \"name\": \"temperature\", \"type\": \"number\",\n"
	    "        \"default\": 21, \"sim\": { \"model\": \"drift\", \"noise\": 0.5,\n"
	    "        \"period\": 0.1 } },\n"
	    "      { \"rid\": \"41\", \"name\": \"setpoint\", \"type\": \"number\",\n"
	    "        \"access\": \"rw\", \"min\": 5, \"max\": 30, \"default\": 21 },\n"
	    "      { \"rid\": \"42\", \"name\": \"label\", \"type\": \"string\",\n"
	    "        \"access\": \"rw\", \"default\": \"room\" },\n"
	    "      { \"rid\": \"43\", \"name\": \"light\", \"type\": \"bool\",\n"
	    "        \"access\": \"rw\", \"default\": false } ] } ] }\n");
	snprintf(setp, sizeof(setp), "%s/010/0001/0001/41", node.hid);
	snprintf(label, sizeof(label), "%s/010/0001/0001/42", node.hid);
	snprintf(light, sizeof(light), "%s/010/0001/0001/43", node.hid);
	start_sim();
	wait_sim_ready();
}

static void
teardown(void)
{
	if (sim.pid > 0)
		th_stop(&sim, SIGTERM, 3000);
	umount2(state, MNT_DETACH);	/* the disk-full test's tmpfs, if any */
	th_node_stop(&node);
}

TestSuite(fault_persist, .init = setup, .fini = teardown, .timeout = 120);

static void
kill9_restart(void)
{
	cr_assert_eq(kill(sim.pid, SIGKILL), 0);
	th_stop(&sim, SIGKILL, 3000);
	start_sim();
	wait_sim_ready();
}

Test(fault_persist, every_slot_an_operator_wrote_comes_back_after_kill_9)
{
	char out[OUT_MAX], before[3][2048], after[2048];
	const char *uris[3] = { setp, label, light };

	cr_assert_eq(mobius(out, sizeof(out), "set %s 23.5 --priority 8", setp), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "set %s 25 --priority 16", setp), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "set %s 6 --priority 1", setp), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "clear %s --priority 1", setp), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "set %s kitchen", label), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "set %s on --priority 3", light), 0, "%s", out);
	for (int i = 0; i < 3; i++)
		prio_of(uris[i], before[i], sizeof(before[i]));
	cr_assert(strstr(before[0], "23.5") != NULL, "%s", before[0]);

	kill9_restart();

	for (int i = 0; i < 3; i++) {
		prio_of(uris[i], after, sizeof(after));
		cr_expect_str_eq(after, before[i], "%s after kill -9", uris[i]);
	}
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "23.5\n");
	/* the lower slot is really there: clearing 8 uncovers 16 */
	cr_assert_eq(mobius(out, sizeof(out), "clear %s --priority 8", setp), 0, "%s", out);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "25\n");
	cr_assert_eq(mobius(out, sizeof(out), "get %s", label), 0, "%s", out);
	cr_expect_str_eq(out, "kitchen\n");
}

Test(fault_persist, a_corrupt_slots_file_is_named_and_defaults_apply)
{
	char out[OUT_MAX], log[600], want[700];

	cr_assert_eq(mobius(out, sizeof(out), "set %s 23.5", setp), 0, "%s", out);
	cr_assert_eq(kill(sim.pid, SIGKILL), 0);
	th_stop(&sim, SIGKILL, 3000);
	/* torn: the file cut in the middle */
	cr_assert_eq(truncate(slots, 20), 0, "%s: %s", slots, strerror(errno));
	start_sim();
	wait_sim_ready();
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	snprintf(want, sizeof(want), "%s: malformed JSON", slots);
	cr_expect_eq(th_wait_log(log, want, 5000), 0, "the log names %s", slots);
	cr_expect_eq(th_count_log(log, "starting from the config defaults"), 1);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "21\n");
	/* and it goes on saving */
	cr_assert_eq(mobius(out, sizeof(out), "set %s 22", setp), 0, "%s", out);
	kill9_restart();
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "22\n");
}

Test(fault_persist, a_full_disk_is_reported_and_the_old_file_kept)
{
	char out[OUT_MAX], log[600], fill[600], old[4096], now[4096];
	FILE *f;
	size_t n;
	int fd;

	if (geteuid() != 0)
		cr_skip_test("mounting a small tmpfs needs root");
	/* a 64 KiB tmpfs as the state directory, then nearly filled */
	cr_assert_eq(mount("tmpfs", state, "tmpfs", 0, "size=64k,mode=0700"), 0,
	    "mount tmpfs: %s", strerror(errno));
	cr_assert_eq(mobius(out, sizeof(out), "set %s 23.5 --priority 8", setp), 0, "%s", out);
	cr_assert_not_null(f = fopen(slots, "r"));
	n = fread(old, 1, sizeof(old) - 1, f);
	old[n] = '\0';
	fclose(f);
	snprintf(fill, sizeof(fill), "%s/fill", state);
	cr_assert_geq(fd = open(fill, O_WRONLY | O_CREAT, 0600), 0);
	{
		char block[4096] = { 0 };

		while (write(fd, block, sizeof(block)) > 0)
			;
		while (write(fd, block, 1) > 0)
			;
	}
	close(fd);

	/* the write is applied and answered, with the reason it was not saved */
	cr_assert_eq(mobius(out, sizeof(out), "set %s 24 --priority 8", setp), 0, "%s", out);
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_expect_eq(th_wait_log(log, "No space left on device", 5000), 0);
	cr_expect_gt(th_count_log(log, slots), 0, "the log names %s", slots);
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "24\n", "the daemon keeps serving");
	/* the previous file is intact, no temp file left behind */
	cr_assert_not_null(f = fopen(slots, "r"));
	n = fread(now, 1, sizeof(now) - 1, f);
	now[n] = '\0';
	fclose(f);
	cr_expect_str_eq(now, old);
	unlink(fill);
	cr_assert_eq(mobius(out, sizeof(out), "set %s 25 --priority 8", setp), 0, "%s", out);
	kill9_restart();
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "25\n", "saving again once there is room");
}

/* Confined as in production: the seccomp table and the mount view let the
 * sim write its slots file, and only in its state directory. */
Test(fault_persist, the_confined_sim_saves_and_restores_its_slots)
{
	char out[OUT_MAX], log[600];
	struct passwd *pw;
	int unconfined;

	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL)
		cr_skip_test("needs root and a user \"nobody\" to confine the sim");
	th_stop(&sim, SIGTERM, 3000);
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	unconfined = th_count_log(log, "DISABLED");	/* setup's own sim */
	sandboxed = 1;
	cr_assert_eq(chown(state, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(chmod(node.dir, 0711), 0);
	cr_assert_eq(chmod(node.sock, 0666), 0);
	start_sim();
	wait_sim_ready();
	cr_assert_eq(mobius(out, sizeof(out), "set %s 28 --priority 9", setp), 0, "%s", out);
	kill9_restart();
	cr_assert_eq(mobius(out, sizeof(out), "get %s", setp), 0, "%s", out);
	cr_expect_str_eq(out, "28\n");
	cr_expect_eq(th_count_log(log, "not saved"), 0);
	cr_expect_eq(th_count_log(log, "DISABLED"), unconfined, "ran confined");
}
