/*
 * docs/ is normative and every security claim in it names the test that
 * proves it, so a cited test must exist: after a rename the claim would
 * point at nothing.  A page cites a test as `suite::name`, `suite/name`,
 * `test_X: name`, test_X `name` (the last test_X named before it in the
 * paragraph, outside `test_X: name`, is its binary) or `name` alone;
 * `…` or `...` in a name stands for any text.  A backticked word of four
 * or more lower-case parts that is no test must be a name the sources use
 * (a function, a bench figure).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct cited_test {
	char bin[64], suite[64], name[160];
};

static struct cited_test *tests;
static size_t ntests;
static int bad, checked;

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	cr_assert_not_null(f, "%s", path);
	do {
		cap += 65536;
		cr_assert_not_null(buf = realloc(buf, cap + 1));
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0 && n == cap);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Copy the word of [a-z0-9_] at s into out; its length. */
static size_t
word(const char *s, char *out, size_t len)
{
	size_t n = 0;

	while ((islower((unsigned char)s[n]) || isdigit((unsigned char)s[n]) ||
	    s[n] == '_') && n + 1 < len) {
		out[n] = s[n];
		n++;
	}
	out[n] = '\0';
	return n;
}

/* Every Test(suite, name) of tests/test_*.c. */
static void
load_tests(void)
{
	glob_t g;

	cr_assert_eq(glob("tests/test_*.c", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *text = slurp(g.gl_pathv[i]), *p = text;
		const char *base = strrchr(g.gl_pathv[i], '/') + 1;

		while ((p = strstr(p, "\nTest(")) != NULL) {
			struct cited_test *t;

			cr_assert_not_null(tests = realloc(tests,
			    (ntests + 1) * sizeof(*tests)));
			t = &tests[ntests++];
			snprintf(t->bin, sizeof(t->bin), "%.*s",
			    (int)(strlen(base) - 2), base);
			p += word(p + 6, t->suite, sizeof(t->suite)) + 6;
			while (*p == ',' || *p == ' ' || *p == '\n' || *p == '\t')
				p++;
			p += word(p, t->name, sizeof(t->name));
		}
		free(text);
	}
	globfree(&g);
	cr_assert_gt(ntests, 100, "only %zu tests found", ntests);
}

/* Tests whose name matches pat (bin and suite if not NULL). */
static int
matches(const char *bin, const char *suite, const char *pat)
{
	int n = 0;

	for (size_t i = 0; i < ntests; i++)
		n += (bin == NULL || strcmp(tests[i].bin, bin) == 0) &&
		    (suite == NULL || strcmp(tests[i].suite, suite) == 0) &&
		    fnmatch(pat, tests[i].name, 0) == 0;
	return n;
}

static int
is_suite(const char *s)
{
	for (size_t i = 0; i < ntests; i++)
		if (strcmp(tests[i].suite, s) == 0)
			return 1;
	return 0;
}

/* A name the sources (not the tests) use: grep, fixed word. */
static int
in_sources(const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "grep -rqwF --exclude-dir=build "
	    "--exclude-dir=tests --exclude-dir=.git --exclude-dir=docs "
	    "-e '%s' . tests/support", name);
	return system(cmd) == 0;
}

static void
fail(const char *md, const char *what, const char *cited)
{
	cr_log_error("%s: %s: %s", md, what, cited);
	bad++;
}

/* The last test binary named in para before end, or "". */
static void
context(const char *para, const char *end, char *bin, size_t len)
{
	const char *p = para;

	bin[0] = '\0';
	while ((p = strstr(p, "test_")) != NULL && p < end) {
		/* `test_X: name` names its own binary, not the paragraph's */
		if (p == para || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
		    p[-1] == '`'))
			word(p, bin, len);
		p += 5;
	}
}

/* One cited name, `…` and `...` made wildcards, checked in bin if any. */
static void
check_name(const char *md, const char *bin, const char *name)
{
	char pat[200];
	size_t n = 0;

	for (const char *s = name; *s != '\0' && n + 2 < sizeof(pat); ) {
		if (strncmp(s, "…", strlen("…")) == 0 || strncmp(s, "...", 3) == 0) {
			pat[n++] = '*';
			s += strncmp(s, "...", 3) == 0 ? 3 : strlen("…");
		} else
			pat[n++] = *s++;
	}
	pat[n] = '\0';
	checked++;
	if (matches(bin[0] != '\0' ? bin : NULL, NULL, pat) > 0)
		return;
	if (bin[0] != '\0' && matches(NULL, NULL, pat) > 0)
		fail(md, "cited with another binary than its own", name);
	else if (strchr(pat, '*') != NULL || !in_sources(name))
		fail(md, "no such test (nor a name in the sources)", name);
}

/* Four or more parts of [a-z0-9], `…` or `...` allowed. */
static int
test_like(const char *s)
{
	int parts = 1;

	if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s))
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '_')
			parts++;
		else if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '.' && (unsigned char)*s < 0x80)
			return 0;
	}
	return parts >= 4;
}

static void
check_span(const char *md, const char *para, const char *at, const char *span)
{
	char bin[64], a[160], b[160];
	const char *sep;

	context(para, at, bin, sizeof(bin));
	/* `test_X: name`, `test_X name` */
	if (strncmp(span, "test_", 5) == 0 && (sep = strpbrk(span, ": ")) != NULL) {
		snprintf(bin, sizeof(bin), "%.*s", (int)(sep - span), span);
		sep += strspn(sep, ": ");
		if (test_like(sep))
			check_name(md, bin, sep);
		return;
	}
	/* `suite::name`, `suite/name` (name may be *) */
	if ((sep = strstr(span, "::")) != NULL || (sep = strchr(span, '/')) != NULL) {
		snprintf(a, sizeof(a), "%.*s", (int)(sep - span), span);
		snprintf(b, sizeof(b), "%s", sep + (sep[0] == ':' ? 2 : 1));
		if (word(a, bin, sizeof(bin)) != strlen(a) || a[0] == '\0' ||
		    !(sep[0] == ':' ? word(b, bin, sizeof(bin)) == strlen(b) &&
		    b[0] != '\0' : is_suite(a) && (test_like(b) || strcmp(b, "*") == 0)))
			return;
		checked++;
		if (matches(NULL, a, b) == 0)
			fail(md, "no such suite::test", span);
		return;
	}
	if (test_like(span))
		check_name(md, bin, span);
}

/* test_X name outside backticks, as "(test_keytool peers_export_and_import)". */
static void
check_plain(const char *md, const char *para, const char *end)
{
	const char *p = para;
	char bin[64], name[160];

	while ((p = strstr(p, "test_")) != NULL && p < end) {
		size_t n;

		if (p > para && (isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
		    p[-1] == '`')) {
			p += 5;
			continue;
		}
		n = word(p, bin, sizeof(bin));
		if (p[n] == ' ' && word(p + n + 1, name, sizeof(name)) > 0 &&
		    test_like(name) && p[n + 1 + strlen(name)] != '`')
			check_name(md, bin, name);
		p += n;
	}
}

static void
check_page(const char *md)
{
	char *text = slurp(md), *para = text, *end;

	for (; *para != '\0'; para = end) {
		char *tick, *close;

		if ((end = strstr(para, "\n\n")) == NULL)
			end = para + strlen(para);
		else
			end += 2;
		for (tick = para; (tick = memchr(tick, '`', end - tick)) != NULL;
		    tick = close + 1) {
			char span[256];

			if ((close = memchr(tick + 1, '`', end - tick - 1)) == NULL)
				break;
			if (memchr(tick, '\n', close - tick) != NULL ||
			    (size_t)(close - tick) >= sizeof(span))
				continue;
			snprintf(span, sizeof(span), "%.*s", (int)(close - tick - 1),
			    tick + 1);
			check_span(md, para, tick, span);
		}
		check_plain(md, para, end);
	}
	free(text);
}

Test(docs, every_test_a_page_cites_exists_in_the_binary_it_names)
{
	glob_t g;

	if (access("docs/security.md", R_OK) != 0)
		cr_skip_test("docs/: not run from the source tree");
	load_tests();
	cr_assert_eq(glob("docs/*.md", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++)
		check_page(g.gl_pathv[i]);
	globfree(&g);
	cr_assert_gt(checked, 50, "only %d cited tests found", checked);
	cr_assert_eq(bad, 0, "%d cited tests do not exist (listed above)", bad);
}
