/*
 * The release (lib/sys/mobius/version.h); MOB_VERSION comes from the
 * Makefile, read from debian/changelog.
 */
#include "mobius/version.h"

#ifndef MOB_VERSION
#error "MOB_VERSION is set by the Makefile from debian/changelog"
#endif

const char *
mob_version(void)
{
	return MOB_VERSION;
}

void
mob_version_print(FILE *fp, const char *program)
{
	fprintf(fp, "%s %s\n", program, MOB_VERSION);
}
