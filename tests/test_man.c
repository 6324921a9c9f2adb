/*
 * Man pages (man/NAME.N.scd, built by scdoc into $MOBIUS_BUILD/man): every
 * program has one, man(1) renders each without a warning, and each stays
 * in step with its program: every long option and command the program's
 * --help (and each command's --help) prints is documented in the page.
 * The hub's config page names every option of the shipped etc/hub.conf.
 */
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support/harness.h"

#define OUTMAX	65536

/* The program's test-only helpers are not installed, so need no page. */
static const char *const not_installed[] = { "mobius-sandbox-probe", NULL };

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, OUTMAX);
	cr_assert_not_null(buf);
	n = fread(buf, 1, OUTMAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Output of a shell command. */
static char *
run(const char *cmd)
{
	char *buf = calloc(1, OUTMAX);
	size_t n;
	FILE *p;

	cr_assert_not_null(buf);
	cr_assert_not_null(p = popen(cmd, "r"), "%s", cmd);
	n = fread(buf, 1, OUTMAX - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

/* The scdoc source of the page for prog (section 1 or 8), or NULL. */
static char *
page_source(const char *prog, char *path, size_t len)
{
	char *s;

	snprintf(path, len, "man/%s.8.scd", prog);
	if ((s = slurp(path)) != NULL)
		return s;
	snprintf(path, len, "man/%s.1.scd", prog);
	return slurp(path);
}

/* Every "--option" in help must be in the page as *--option*. */
static void
expect_options(const char *prog, const char *help, const char *page,
    const char *path)
{
	const char *p = help;

	while ((p = strstr(p, "--")) != NULL) {
		char opt[64], want[70];
		size_t n = 2;

		if (p > help && (isalnum((unsigned char)p[-1]) || p[-1] == '-')) {
			p += 2;
			continue;
		}
		while (n < sizeof(opt) - 1 && (islower((unsigned char)p[n]) ||
		    isdigit((unsigned char)p[n]) || p[n] == '-'))
			n++;
		memcpy(opt, p, n);
		opt[n] = '\0';
		p += n;
		if (n <= 2)
			continue;
		snprintf(want, sizeof(want), "*%s*", opt);
		cr_expect_not_null(strstr(page, want), "%s: %s prints %s, %s "
		    "does not document it", prog, "--help", opt, path);
	}
}

/*
 * The commands of a program with commands: the lines of the "commands:"
 * section that start with two spaces and a lower-case word.
 */
static int
next_command(const char **cur, char *cmd, size_t len)
{
	const char *p = *cur;

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t n = 0;

		if (eol == NULL)
			eol = p + strlen(p);
		if (*p == '\n' || (p[0] != ' ' && p != *cur)) {
			*cur = NULL;	/* a blank line or a new section ends it */
			return 0;
		}
		if (p[0] == ' ' && p[1] == ' ' && islower((unsigned char)p[2])) {
			while (n < len - 1 && (islower((unsigned char)p[2 + n]) ||
			    p[2 + n] == '-'))
				n++;
			memcpy(cmd, p + 2, n);
			cmd[n] = '\0';
			*cur = *eol ? eol + 1 : eol;
			return 1;
		}
		p = *eol ? eol + 1 : eol;
	}
	*cur = NULL;
	return 0;
}

static void
check_program(const char *bin, const char *prog)
{
	char path[512], exe[1024], want[80], cmd[64], sh[2200];
	char *page, *help, *warn;
	const char *cur;

	page = page_source(prog, path, sizeof(path));
	cr_assert_not_null(page, "%s has no man page (man/%s.8.scd or .1.scd)",
	    prog, prog);
	snprintf(exe, sizeof(exe), "%s/%s", bin, prog);
	snprintf(sh, sizeof(sh), "'%s' --help 2>&1", exe);
	help = run(sh);
	cr_expect_neq(help[0], '\0', "%s --help printed nothing", prog);
	expect_options(prog, help, page, path);
	if ((cur = strstr(help, "\ncommands:\n")) != NULL) {
		cur += strlen("\ncommands:\n");
		while (next_command(&cur, cmd, sizeof(cmd))) {
			char *sub;

			snprintf(want, sizeof(want), "*%s*", cmd);
			cr_expect_not_null(strstr(page, want), "%s: command %s is "
			    "not in %s", prog, cmd, path);
			snprintf(sh, sizeof(sh), "'%s' %s --help 2>&1", exe, cmd);
			sub = run(sh);
			expect_options(prog, sub, page, path);
			free(sub);
		}
	}
	free(help);
	/* the rendered page: no groff or man warning */
	snprintf(path, sizeof(path), "%s/man", getenv("MOBIUS_BUILD") ?
	    getenv("MOBIUS_BUILD") : "build");
	snprintf(sh, sizeof(sh), "MANWIDTH=80 man --warnings -l "
	    "\"$(ls %s/man*/%s.[18])\" 2>&1 >/dev/null", path, prog);
	warn = run(sh);
	cr_expect_eq(warn[0], '\0', "man --warnings on %s: %s", prog, warn);
	free(warn);
	free(page);
}

Test(man, every_program_has_a_page_in_step_with_its_help)
{
	char bin[512];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if (access("man", F_OK) != 0)
		cr_skip_test("man/: not run from the source tree");
	th_path("bin", bin, sizeof(bin));
	cr_assert_not_null(dir = opendir(bin), "%s", bin);
	while ((d = readdir(dir)) != NULL) {
		int skip = d->d_name[0] == '.';

		for (size_t i = 0; not_installed[i] != NULL; i++)
			skip |= strcmp(d->d_name, not_installed[i]) == 0;
		if (skip)
			continue;
		check_program(bin, d->d_name);
		n++;
	}
	closedir(dir);
	cr_expect_geq(n, 6, "only %d programs in %s", n, bin);
}

Test(man, config_pages_render_cleanly_and_name_every_hub_option)
{
	char *page, *conf, *warn, build[512], sh[1024];
	const char *p;

	if (access("man", F_OK) != 0 || access("etc/hub.conf", R_OK) != 0)
		cr_skip_test("man/, etc/: not run from the source tree");
	snprintf(build, sizeof(build), "%s/man", getenv("MOBIUS_BUILD") ?
	    getenv("MOBIUS_BUILD") : "build");
	snprintf(sh, sizeof(sh), "for f in %s/man5/*.5; do MANWIDTH=80 man "
	    "--warnings -l $f; done 2>&1 >/dev/null", build);
	warn = run(sh);
	cr_expect_eq(warn[0], '\0', "man --warnings: %s", warn);
	free(warn);
	cr_assert_not_null(page = slurp("man/mobius-hub.conf.5.scd"));
	cr_assert_not_null(conf = slurp("etc/hub.conf"));
	/* "#name = value" lines: each option shipped, commented out */
	for (p = conf; (p = strstr(p, "\n#")) != NULL; p++) {
		char name[64], want[70];
		size_t n = 0;

		while (n < sizeof(name) - 1 && (islower((unsigned char)p[2 + n]) ||
		    isdigit((unsigned char)p[2 + n]) || p[2 + n] == '_'))
			n++;
		if (n == 0 || strncmp(p + 2 + n, " = ", 3) != 0)
			continue;
		memcpy(name, p + 2, n);
		name[n] = '\0';
		if (strncmp(name, "writers_", 8) == 0)
			snprintf(name, sizeof(name), "writers\\_");
		snprintf(want, sizeof(want), "*%s", name);
		cr_expect_not_null(strstr(page, want), "hub.conf option %s is not "
		    "in mobius-hub.conf.5.scd", name);
	}
	free(conf);
	free(page);
}

/* Every option the parser knows (hub/opts.c) is in the shipped hub.conf. */
Test(man, the_shipped_hub_conf_names_every_option_of_the_parser)
{
	static const char *const marks[] = { "NUM(\"", "strcmp(k, \"",
	    "strncmp(k, \"", NULL };
	char *src, *conf;
	int n = 0;

	if ((src = slurp("hub/opts.c")) == NULL || access("etc/hub.conf", R_OK) != 0)
		cr_skip_test("hub/opts.c, etc/hub.conf: not run from the source tree");
	cr_assert_not_null(conf = slurp("etc/hub.conf"));
	for (size_t m = 0; marks[m] != NULL; m++) {
		for (const char *p = src; (p = strstr(p, marks[m])) != NULL; ) {
			char name[64], want[70];
			size_t len;

			p += strlen(marks[m]);
			len = strcspn(p, "\"");
			if (len == 0 || len >= sizeof(name))
				continue;
			memcpy(name, p, len);
			name[len] = '\0';
			/* the launcher sets these (--keys, --state); hub.conf refuses them */
			if (strcmp(name, "keys") == 0 || strcmp(name, "keyring") == 0 ||
			    strcmp(name, "hub_key") == 0 || strcmp(name, "status") == 0)
				continue;
			snprintf(want, sizeof(want), "#%s", name);
			cr_expect_not_null(strstr(conf, want), "option %s (hub/opts.c) "
			    "is not in etc/hub.conf", name);
			n++;
		}
	}
	cr_expect_geq(n, 8, "found only %d options in hub/opts.c", n);
	free(conf);
	free(src);
}
