#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mobius/err.h"

struct errdesc {
	int code;
	const char *name;
	const char *msg;
};

static const struct errdesc errtab[] = {
#define MOB_ERR_ROW(name, value, shortname, msg) { value, shortname, msg },
	MOB_ERRORS(MOB_ERR_ROW)
#undef MOB_ERR_ROW
};

static const struct errdesc *
err_find(int err)
{
	for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (errtab[i].code == err)
			return &errtab[i];
	return NULL;
}

const char *
mob_strerror(int err)
{
	const struct errdesc *d = err_find(err);

	return d ? d->msg : "unknown error";
}

const char *
mob_errname(int err)
{
	const struct errdesc *d = err_find(err);

	return d ? d->name : "unknown";
}

int
mob_errcode(const char *name)
{
	for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (strcmp(errtab[i].name, name) == 0)
			return errtab[i].code;
	return MOB_EINVAL;
}

int
mob_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return code;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}
