/*
 * The release every program reports with --version.  It has one home:
 * the top entry of debian/changelog, which the Makefile hands to
 * lib/sys/version.c only.
 */
#ifndef MOBIUS_VERSION_H
#define MOBIUS_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *mob_version(void);
/* "PROGRAM VERSION\n" on fp, as --version prints it. */
void mob_version_print(FILE *fp, const char *program);

#endif
