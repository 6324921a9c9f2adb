/*
 * mobius-api in `make run` (scripts/run-node.sh): the banner's token works
 * with curl (discover, get, set, clear), with a third-party WebSocket
 * client, and the dashboard works in headless Chromium driven over the
 * DevTools protocol (tests/api_browser.py): a value changes live, a
 * setpoint typed into the page is applied.  The screenshot is kept in
 * $MOBIUS_BUILD/test-output/api-dashboard.png.
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/harness.h"

#define OUT_MAX		65536
#define TEMP		"000001/010/0101/0001/40"
#define SETP		"000001/010/0102/0001/40"
#define PYTHON		"/usr/bin/python3"

static int
sh(char *out, size_t len, const char *cmd)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };

	out[0] = '\0';
	return th_run(argv, NULL, out, len, 60000);
}

/* curl with the banner's token; the HTTP status (0: no answer). */
static int
curl(char *out, size_t len, const char *tok, const char *args)
{
	char cmd[2048], *nl;

	snprintf(cmd, sizeof(cmd), "exec curl -sk --max-time 10 -o - -w '\\n%%{http_code}' "
	    "-H 'Authorization: Bearer %s' %s", tok, args);
	sh(out, len, cmd);
	if ((nl = strrchr(out, '\n')) == NULL)
		return 0;
	*nl = '\0';
	return atoi(nl + 1);
}

/* The value after "label" on its banner line. */
static void
banner_field(const char *log, const char *label, char *out, size_t len)
{
	char line[1024];
	FILE *fp = fopen(log, "r");

	out[0] = '\0';
	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = strstr(line, label);

		if (p != NULL) {
			p += strlen(label);
			p += strspn(p, " ");
			snprintf(out, len, "%.*s", (int)strcspn(p, " \n"), p);
			break;
		}
	}
	fclose(fp);
	cr_assert_neq(out[0], '\0', "no \"%s\" in the banner", label);
}

Test(api_run, make_run_serves_curl_websocket_and_the_dashboard, .timeout = 150)
{
	char dir[256], build[512], tmpenv[300], portenv[64], apienv[64], log[300];
	char tok[128], url[128], base[64], out[OUT_MAX], args[1024], shot[700], py[64];
	char *env[] = { tmpenv, portenv, apienv, NULL };
	char *argv[] = { "scripts/run-node.sh", build, NULL };
	const char *b = getenv("MOBIUS_BUILD");
	struct th_proc p;
	int port, st, i;

	if (access("scripts/run-node.sh", X_OK) != 0)
		cr_skip_test("run from the source tree (scripts/run-node.sh)");
	snprintf(build, sizeof(build), "%s", b != NULL && *b != '\0' ? b : "build");
	th_tmpdir(dir, sizeof(dir));
	snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", dir);
	snprintf(portenv, sizeof(portenv), "MOBIUS_MODBUS_PORT=%d", th_free_port());
	port = th_free_port();
	snprintf(apienv, sizeof(apienv), "MOBIUS_API_PORT=%d", port);
	snprintf(log, sizeof(log), "%s.log", dir);
	cr_assert_eq(th_spawn(&p, argv, env, log), 0);
	cr_assert_eq(th_wait_log(log, "/0101/0001/40  temperature", 30000), 0, "the node runs");
	banner_field(log, "token:", tok, sizeof(tok));
	cr_assert_eq(strncmp(tok, "mobt_", 5), 0);
	snprintf(base, sizeof(base), "https://127.0.0.1:%d", port);
	cr_assert_not_null(strstr(base, "127.0.0.1"), "plain loopback address");

	/* curl: discover, get, set, clear */
	snprintf(args, sizeof(args), "%s/api/v1/discover", base);
	for (i = 0; i < 50 && (st = curl(out, sizeof(out), tok, args)) != 200; i++)
		usleep(100 * 1000);
	cr_assert_eq(st, 200, "discover: %s", out);
	cr_assert_not_null(strstr(out, "\"id\":\"000001/010\""), "%s", out);
	snprintf(args, sizeof(args), "%s/api/v1/values/" TEMP, base);
	cr_assert_eq(curl(out, sizeof(out), tok, args), 200, "%s", out);
	cr_assert_not_null(strstr(out, "\"units\":\"Cel\""), "%s", out);
	snprintf(args, sizeof(args), "-X PUT -d '{\"value\":23.5,\"priority\":8}' "
	    "%s/api/v1/values/" SETP, base);
	cr_assert_eq(curl(out, sizeof(out), tok, args), 200, "%s", out);
	cr_assert_not_null(strstr(out, "\"value\":23.5,"), "%s", out);
	snprintf(args, sizeof(args), "-X DELETE '%s/api/v1/values/" SETP "?priority=8'", base);
	cr_assert_eq(curl(out, sizeof(out), tok, args), 200, "%s", out);
	cr_assert_null(strstr(out, "\"value\":23.5,"), "not cleared: %s", out);

	/* the stream, with python3-websocket */
	snprintf(py, sizeof(py), "tests/api_ws.py");
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/api/v1/stream?pattern=000001/010/%%23", port);
	{
		char *wargv[] = { PYTHON, py, "stream", url, tok, "3", NULL };

		cr_assert_eq(th_run(wargv, NULL, out, sizeof(out), 20000), 0, "%s", out);
		cr_assert_not_null(strstr(out, "\"uri\":\"000001/010/"), "%s", out);
	}

	/* the dashboard in headless Chromium */
	snprintf(shot, sizeof(shot), "%s/test-output", build);
	mkdir(shot, 0755);
	snprintf(shot, sizeof(shot), "%s/test-output/api-dashboard.png", build);
	snprintf(py, sizeof(py), "tests/api_browser.py");
	{
		char *bargv[] = { PYTHON, py, base, tok, TEMP, SETP, "24.5", shot, NULL };

		st = th_run(bargv, NULL, out, sizeof(out), 120000);
		if (st == 77) {
			th_stop(&p, SIGINT, 10000);
			cr_skip_test("%s", out);
		}
		cr_assert_eq(st, 0, "chromium: %s", out);
	}
	cr_log_info("%s", out);
	cr_assert_not_null(strstr(out, "changed to:"), "%s", out);
	cr_assert_not_null(strstr(out, "applied: 24.5"), "%s", out);
	cr_assert_eq(access(shot, R_OK), 0, "no screenshot");
	/* applied on the node, not only shown: a fresh read */
	snprintf(args, sizeof(args), "%s/api/v1/values/" SETP, base);
	cr_assert_eq(curl(out, sizeof(out), tok, args), 200);
	cr_assert_not_null(strstr(out, "\"value\":24.5,"), "%s", out);

	st = th_stop(&p, SIGINT, 10000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %#x", st);
	cr_expect_eq(rmdir(dir), 0, "the node's directory is gone");
	unlink(log);
}
