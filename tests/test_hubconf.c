/*
 * hub.conf: the node's hub options in a file (and its drop-ins) read by
 * mobius-hub (docs/hub.md, hub.conf(5)).  The launcher checks every option
 * with the plugin's own parser and names the file:line of a bad one; the
 * good ones reach mosquitto.conf, later settings replacing earlier ones.
 * mosquitto is replaced by /bin/true: what the launcher writes is the test.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support/harness.h"

static char dir[256], conf[300], dropins[310], keys[300], state[300];
static char hub[512], log_path[300];

static void
setup(void)
{
	th_tmpdir(dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/hub.conf", dir);
	snprintf(dropins, sizeof(dropins), "%s/hub.conf.d", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log_path, sizeof(log_path), "%s/hub.log", dir);
	th_path("bin/mobius-hub", hub, sizeof(hub));
	cr_assert_eq(mkdir(dropins, 0755), 0);
}

static void
teardown(void)
{
	th_rmtree(dir);
}

TestSuite(hubconf, .init = setup, .fini = teardown);

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void
put_dropin(const char *name, const char *text)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", dropins, name);
	put(path, text);
}

static void
init_keys(void)
{
	char keytool[512];
	char *argv[] = { keytool, "--dir", keys, "init", "--hid", "000001",
	    NULL };

	th_path("bin/mobius-keytool", keytool, sizeof(keytool));
	cr_assert_eq(th_run(argv, NULL, NULL, 0, 10000), 0, "keytool init");
}

/* mobius-hub --config conf [--opt extra]; its exit code, output in log_path */
static int
run_hub(const char *extra)
{
	char *argv[] = { hub, "--config", conf, "--keys", keys, "--state", state,
	    "--socket", "hub.sock", "--mosquitto", "/bin/true", "--foreground",
	    "--no-sandbox", extra ? "--opt" : NULL, (char *)extra, NULL };
	struct th_proc p;
	int st;

	cr_assert_eq(th_spawn(&p, argv, NULL, log_path), 0);
	st = th_stop(&p, 0, 10000);	/* signal 0: wait for the exit */
	cr_assert(WIFEXITED(st), "status %#x", st);
	return WEXITSTATUS(st);
}

static void
expect_refused(const char *needle)
{
	cr_expect_neq(run_hub(NULL), 0, "the hub started");
	cr_expect_eq(th_wait_log(log_path, needle, 100), 0, "no \"%s\" in the log",
	    needle);
}

Test(hubconf, a_bad_value_in_a_dropin_stops_the_hub_with_its_file_and_line)
{
	char needle[512];

	put(conf, "# comment\n\nwindow_ms = 20000\n");
	put_dropin("10-ok.conf", "  # indented comment\nreq_max = 64\n");
	put_dropin("20-bad.conf", "\n\nwriters_020 = 0C1;0F0\n");
	snprintf(needle, sizeof(needle), "%s/20-bad.conf:3: writers_020: "
	    "\"0C1;0F0\" is not a list", dropins);
	expect_refused(needle);
}

Test(hubconf, an_unknown_name_or_a_line_without_equals_is_refused)
{
	char needle[512];

	put(conf, "# the hub policy\nwindow_msec = 20000\n");
	snprintf(needle, sizeof(needle), "%s:2: window_msec: unknown option", conf);
	expect_refused(needle);
	put(conf, "window_ms 20000\n");
	snprintf(needle, sizeof(needle), "%s:1: want NAME = VALUE", conf);
	expect_refused(needle);
	/* the launcher's --keys is the only keys directory */
	put(conf, "\nkeys = /tmp\n");
	snprintf(needle, sizeof(needle), "%s:2: keys is set with --keys", conf);
	expect_refused(needle);
	put(conf, "status = /tmp/x\n");
	snprintf(needle, sizeof(needle), "%s:1: status is set with --state", conf);
	expect_refused(needle);
}

Test(hubconf, a_missing_config_file_stops_the_hub)
{
	snprintf(conf, sizeof(conf), "%s/absent.conf", dir);
	expect_refused("absent.conf");
}

Test(hubconf, dropins_then_opt_replace_earlier_settings_in_mosquitto_conf)
{
	char path[400];

	init_keys();
	put(conf, "window_ms = 20000\nwriters_020 = 0C1,0F0\n"
	    "stats_interval_ms = 5000\n");
	put_dropin("50-local.conf", "window_ms = 30000\n");
	put_dropin("10-first.conf", "window_ms = 25000\nremote_req = yes\n");
	put_dropin("README", "not a .conf file: ignored\n");
	cr_assert_eq(run_hub("stats_interval_ms=500"), 0);
	snprintf(path, sizeof(path), "%s/mosquitto.conf", state);
	cr_expect_eq(th_count_log(path, "plugin_opt_window_ms"), 1);
	cr_expect_eq(th_count_log(path, "plugin_opt_window_ms 30000\n"), 1);
	cr_expect_eq(th_count_log(path, "plugin_opt_writers_020 0C1,0F0\n"), 1);
	cr_expect_eq(th_count_log(path, "plugin_opt_remote_req yes\n"), 1);
	cr_expect_eq(th_count_log(path, "plugin_opt_stats_interval_ms 500\n"), 1);
	cr_expect_eq(th_count_log(path, "not a .conf"), 0);
}

Test(hubconf, the_shipped_hub_conf_is_valid_and_sets_only_defaults)
{
	char path[400];

	if (access("etc/hub.conf", R_OK) != 0)
		cr_skip_test("etc/hub.conf: not run from the source tree");
	init_keys();
	snprintf(conf, sizeof(conf), "etc/hub.conf");
	cr_assert_eq(run_hub(NULL), 0);
	snprintf(path, sizeof(path), "%s/mosquitto.conf", state);
	/* everything in it is commented out: the plugin's defaults */
	cr_expect_eq(th_count_log(path, "plugin_opt_"), 2,
	    "only what the launcher sets: plugin_opt_keys and plugin_opt_status");
	cr_expect_eq(th_count_log(path, "plugin_opt_keys "), 1);
	cr_expect_eq(th_count_log(path, "plugin_opt_status "), 1);
}
