/*
 * libFuzzer target: URI and topic parsers.  Whatever parses must format
 * back to the same text, parse again to the same value and match itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mobius/err.h"
#include "mobius/uri.h"

static void
check_uri(const char *s, int flags)
{
	struct mob_uri u, u2;
	char err[128], buf[MOB_URI_MAX];
	int r;

	err[0] = '\0';
	r = mob_uri_parse(s, flags, &u, err, sizeof(err));
	if (r != 0) {
		if ((r != MOB_EURI && r != MOB_EWILDCARD) || err[0] == '\0')
			abort();
		return;
	}
	if (u.depth < 1 || u.depth > MOB_URI_PARTS ||
	    mob_uri_format(&u, buf, sizeof(buf)) < 0 || strcmp(buf, s) != 0 ||
	    mob_uri_parse(buf, flags, &u2, NULL, 0) != 0 ||
	    memcmp(&u, &u2, sizeof(u)) != 0)
		abort();
	if (!(flags & MOB_URI_WILD) && !mob_uri_match(&u, &u))
		abort();
}

static void
check_topic(const char *s, int flags)
{
	struct mob_topic t, t2;
	char err[128], buf[MOB_TOPIC_MAX];
	int r;

	err[0] = '\0';
	r = mob_topic_parse(s, flags, &t, err, sizeof(err));
	if (r != 0) {
		if ((r != MOB_ETOPIC && r != MOB_EWILDCARD) || err[0] == '\0')
			abort();
		return;
	}
	if (mob_topic_format(&t, buf, sizeof(buf)) < 0 || strcmp(buf, s) != 0 ||
	    mob_topic_parse(buf, flags, &t2, NULL, 0) != 0 ||
	    memcmp(&t, &t2, sizeof(t)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 256 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (int flags = 0; flags <= MOB_URI_WILD; flags++) {
		check_uri(s, flags);
		check_topic(s, flags);
	}
	mob_id_valid(s);
	mob_user_valid(s);
	free(s);
	return 0;
}
