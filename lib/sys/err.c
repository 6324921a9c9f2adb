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
