/*
 * Every program's --version and --help: the version has one home (the top
 * entry of debian/changelog, through lib/sys/version.c), the help goes to
 * stdout with exit status 0 and explains every option it lists.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "mobius/version.h"
#include "support/harness.h"

static const char *const programs[] = {
	"mobius-sim", "mobius-modbus", "mobius-gpio", "mobius-hub", "mobius",
	"mobius-keytool", "mobius-api", "mobius-router", "mobius-front", NULL
};

static int
run(const char *prog, const char *arg, char *out, size_t len)
{
	char path[512], rel[128];
	char *argv[] = { path, (char *)arg, NULL };

	snprintf(rel, sizeof(rel), "bin/%s", prog);
	th_path(rel, path, sizeof(path));
	return th_run(argv, NULL, out, len, 10000);
}

Test(programs, the_version_is_the_top_entry_of_debian_changelog)
{
	char line[256], want[64];
	FILE *f;

	cr_assert_not_null(f = fopen("debian/changelog", "r"),
	    "run from the source tree");
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_assert_eq(sscanf(line, "mobius (%63[^)])", want), 1, "%s", line);
	cr_assert_str_eq(mob_version(), want);
}

Test(programs, every_program_prints_its_version)
{
	char out[256], want[128];

	for (size_t i = 0; programs[i] != NULL; i++) {
		cr_assert_eq(run(programs[i], "--version", out, sizeof(out)), 0,
		    "%s --version", programs[i]);
		snprintf(want, sizeof(want), "%s %s\n", programs[i], mob_version());
		cr_expect_str_eq(out, want);
	}
}

/* Each option line ("  -x, --name ARG   what it does") says what it does. */
static void
assert_options_explained(const char *prog, const char *help)
{
	const char *p = help, *nl, *s;
	int options = 0;

	for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		if (strncmp(p, "  -", 3) != 0)
			continue;
		options++;
		/* the option column, then at least two blanks and words */
		s = strstr(p + 2, "  ");
		cr_expect(s != NULL && s < nl && s[strspn(s, " ")] != '\n',
		    "%s --help: \"%.*s\" is not explained", prog,
		    (int)(nl - p), p);
	}
	cr_expect_geq(options, 3, "%s --help lists no options: %s", prog, help);
}

Test(programs, every_program_explains_its_options_on_stdout)
{
	static char out[16384];

	for (size_t i = 0; programs[i] != NULL; i++) {
		cr_assert_eq(run(programs[i], "--help", out, sizeof(out)), 0,
		    "%s --help", programs[i]);
		cr_expect_not_null(strstr(out, "usage: "), "%s: %s", programs[i], out);
		cr_expect_not_null(strstr(out, "--version"), "%s: %s", programs[i], out);
		assert_options_explained(programs[i], out);
	}
}
