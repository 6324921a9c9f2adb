/*
 * The Promela model of login, session establishment and the replay window
 * (tests/model/trust.pml, docs/security.md "Checked by spin"), checked
 * exhaustively by spin: the designs of issue 11 have no violation, the
 * compat login of before (login key = PSK, bundles carry PSKs) and a hub
 * without its replay window do, so the model is known to be able to fail.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support/harness.h"

#define MODEL	"tests/model/trust.pml"

/* spin -a with defines, compile the verifier, run it; its output in out. */
static void
check(const char *defines, char *out, size_t outlen)
{
	char dir[256], model[512], cmd[1536], cwd[256];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int rc;

	if (access("/usr/bin/spin", X_OK) != 0)
		cr_skip("spin is not installed (Debian package spin)");
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(model, sizeof(model), "%s/%s", cwd, MODEL);
	th_tmpdir(dir, sizeof(dir));
	snprintf(cmd, sizeof(cmd), "cd %s && spin -a %s %s >spin.log 2>&1 && "
	    "cc -O2 -DSAFETY -w -o pan pan.c && ./pan", dir, defines, model);
	rc = th_run(argv, NULL, out, outlen, 120000);
	th_rmtree(dir);
	cr_assert(strstr(out, "errors:") != NULL, "%s: no verdict (exit %d): "
	    "%s", defines, rc, out);
}

Test(model, the_hardened_design_lets_no_one_speak_as_another_nor_replay,
    .timeout = 120)
{
	static char out[16384];

	check("-DHARDENED", out, sizeof(out));
	cr_expect_not_null(strstr(out, "errors: 0"), "%s", out);
	cr_expect_null(strstr(out, "Search not completed"), "%s", out);
}

Test(model, the_compat_design_keeps_logins_from_the_bundle, .timeout = 120)
{
	static char out[16384];

	check("-DCOMPAT", out, sizeof(out));
	cr_expect_not_null(strstr(out, "errors: 0"), "%s", out);
	cr_expect_null(strstr(out, "Search not completed"), "%s", out);
}

/* The regression: the checker finds the login borrowing of before. */
Test(model, the_old_compat_login_is_borrowed_from_the_bundle, .timeout = 120)
{
	static char out[16384];

	check("-DCOMPAT_OLD", out, sizeof(out));
	cr_expect_not_null(strstr(out, "assertion violated"), "%s", out);
}

Test(model, a_hub_without_its_replay_window_is_caught, .timeout = 120)
{
	static char out[16384];

	check("-DHARDENED -DNO_REPLAY", out, sizeof(out));
	cr_expect_not_null(strstr(out, "assertion violated"), "%s", out);
}
