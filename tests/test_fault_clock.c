/*
 * Faults: the wall clock stepped back and forward by an hour while a node
 * runs.  Every process of the node (keytool, mobius-hub and mosquitto,
 * mobius-sim, the CLI) runs under libfaketime (Debian's faketime) reading
 * its offset from one file that the test rewrites: a step of the whole
 * node's wall clock, as NTP or an operator would make it, while the
 * monotonic clock goes on (FAKETIME_DONT_FAKE_MONOTONIC).  After each
 * step: logins and messages with the new time are accepted, timers are
 * not stuck (the sim's COVs keep coming), and nothing crashed.  A client
 * whose clock is an hour off the hub's is refused (docs/protocol.md
 * "Clock steps").
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mobius/keyring.h"
#include "support/harness.h"

#define SIM_ID		"0010/010"
#define CLI_ID		"00C1/0C1"
#define OUT_MAX		65536
#define FAKETIME_LIB	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

static struct th_node node;
static struct th_proc sim;
static char dir[256], offset_file[300], cli_offset_file[300];
static char cli_key[512], sim_key[512], sim_cfg[512];
static char env_sock[600], env_key[600], env_cli_time[400];
static char setp[32], temp[32];
static char *cli_env[] = { env_sock, env_key, NULL };
static char *cli_env_own[] = { env_sock, env_key, env_cli_time, NULL };

/* Step the node's wall clock: "+0", "-1h", "+1h" (libfaketime offsets). */
static void
step(const char *offset)
{
	th_write_file(offset_file, offset);
}

/* The CLI with the node's clock, or (own_clock) with its own offset file. */
#define mobius(own_clock, out, outlen, ...) \
	th_cli((own_clock) ? cli_env_own : cli_env, out, outlen, __VA_ARGS__)

static void
start_sim(void)
{
	th_sim_start(&sim, &node, sim_cfg, sim_key, NULL, 0);
}

/* The node works at its current time: a login, a write, a read, live COVs. */
static void
works(const char *when, const char *value)
{
	char out[OUT_MAX];
	int rc = -1;

	for (int i = 0; i < 50 && rc != 0; i++) {
		if ((rc = mobius(0, out, sizeof(out), "--timeout 1 set %s %s",
		    setp, value)) != 0)
			usleep(100 * 1000);
	}
	cr_assert_eq(rc, 0, "%s: set: %s", when, out);
	cr_assert_eq(mobius(0, out, sizeof(out), "get %s", setp), 0, "%s: %s", when, out);
	cr_expect_eq(strtod(out, NULL), strtod(value, NULL), "%s: get: %s", when, out);
	/* the sim's timer still ticks and its COVs pass the hub's window */
	cr_assert_eq(mobius(0, out, sizeof(out), "watch --json --count 3 "
	    "--duration 15 %s", temp), 0, "%s: watch: %s", when, out);
	cr_expect_geq(strlen(out), 3, "%s: no COV: %s", when, out);
	cr_assert_eq(kill(sim.pid, 0), 0, "%s: mobius-sim is gone", when);
	cr_assert_eq(kill(node.hub.pid, 0), 0, "%s: the hub is gone", when);
}

static void
setup(void)
{
	const char *b = getenv("MOBIUS_BUILD");

	if (b != NULL && strstr(b, "san") != NULL)
		cr_skip_test("the SAN tree preloads the ASan runtime into the hub, "
		    "which takes LD_PRELOAD from libfaketime; the normal tree "
		    "runs this test");
	if (access(FAKETIME_LIB, R_OK) != 0)
		cr_skip_test("libfaketime (Debian package faketime) is not installed");
	th_tmpdir(dir, sizeof(dir));
	snprintf(offset_file, sizeof(offset_file), "%s/offset", dir);
	snprintf(cli_offset_file, sizeof(cli_offset_file), "%s/cli-offset", dir);
	snprintf(env_cli_time, sizeof(env_cli_time), "FAKETIME_TIMESTAMP_FILE=%s",
	    cli_offset_file);
	step("+0");
	/* inherited by every process the harness starts */
	setenv("LD_PRELOAD", FAKETIME_LIB, 1);
	setenv("FAKETIME_TIMESTAMP_FILE", offset_file, 1);
	setenv("FAKETIME_NO_CACHE", "1", 1);
	setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, SIM_ID, sim_key, sizeof(sim_key));
	th_node_add(&node, CLI_ID, cli_key, sizeof(cli_key));
	snprintf(env_sock, sizeof(env_sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(env_key, sizeof(env_key), "MOBIUS_KEY=%s", cli_key);
	snprintf(sim_cfg, sizeof(sim_cfg), "%s/sim.json", node.dir);
	th_write_file(sim_cfg,
	    "{ \"objects\": [ { \"pid\": \"0001\", \"ins\": \"0001\",\n"
	    "  \"resources\": [\n"
	    "    { \"rid\": \"40\", \"name\": \"temperature\", \"type\": \"number\",\n"
	    "      \"default\": 21, \"sim\": { \"model\": \"counter\", \"period\": 0.1 } },\n"
	    "    { \"rid\": \"41\", \"name\": \"setpoint\", \"type\": \"number\",\n"
	    "      \"access\": \"rw\", \"default\": 20 } ] } ] }\n");
	snprintf(temp, sizeof(temp), "%s/010/0001/0001/40", node.hid);
	snprintf(setp, sizeof(setp), "%s/010/0001/0001/41", node.hid);
	start_sim();
}

static void
teardown(void)
{
	unsetenv("LD_PRELOAD");
	if (sim.pid > 0)
		th_stop(&sim, SIGTERM, 3000);
	if (node.dir[0] != '\0')
		th_node_stop(&node);
	if (dir[0] != '\0')
		th_rmtree(dir);
}

TestSuite(fault_clock, .init = setup, .fini = teardown, .timeout = 180);

Test(fault_clock, the_node_keeps_working_through_steps_of_an_hour)
{
	char out[OUT_MAX], log[600];

	works("before any step", "20.5");
	step("-1h");
	works("stepped back an hour", "21.5");
	/* a login after the step: the hub restarted, the sim logs in again */
	th_stop(&node.hub, SIGKILL, 3000);
	th_node_hub_start(&node, NULL);
	works("hub restarted an hour back", "22.5");
	step("+1h");
	works("stepped forward an hour", "23.5");
	step("+0");
	works("back to the real time", "24.5");
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_expect_eq(th_count_log(log, "reconnected to the hub"), 1);

	/* a client an hour behind the node: its login token is stale */
	th_write_file(cli_offset_file, "-1h");
	cr_expect_neq(mobius(1, out, sizeof(out), "--timeout 2 get %s", setp), 0,
	    "a login an hour old was accepted: %s", out);
	th_write_file(cli_offset_file, "+1h");
	cr_expect_neq(mobius(1, out, sizeof(out), "--timeout 2 get %s", setp), 0,
	    "a login an hour ahead was accepted: %s", out);
	th_write_file(cli_offset_file, "+0");
	cr_expect_eq(mobius(1, out, sizeof(out), "get %s", setp), 0, "%s", out);
}
