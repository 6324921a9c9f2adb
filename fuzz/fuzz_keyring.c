/*
 * libFuzzer target: the keyring parser (lib/keys/keyring.c).  Whatever parses
 * must format to text that parses again to the same text: the writer and
 * the reader agree on every keyring the reader accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mobius/keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mob_keyring *kr = NULL, *again = NULL;
	char err[256], *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (mob_keyring_parse((const char *)data, size, "fuzz", &kr, err,
	    sizeof(err)) != 0) {
		/* Every refusal says where. */
		if (strncmp(err, "fuzz", 4) != 0)
			abort();
		return 0;
	}
	if (mob_keyring_format(kr, &t1, &l1) != 0 ||
	    mob_keyring_parse(t1, l1, "again", &again, err, sizeof(err)) != 0 ||
	    mob_keyring_format(again, &t2, &l2) != 0 ||
	    l1 != l2 || memcmp(t1, t2, l1) != 0 ||
	    mob_keyring_count(kr) != mob_keyring_count(again))
		abort();
	for (size_t i = 0; i < mob_keyring_count(kr); i++)
		(void)mob_keyring_lookup(kr, mob_keyring_entry(kr, i)->id, 0, 0);
	mob_keyring_text_free(t1, l1);
	mob_keyring_text_free(t2, l2);
	mob_keyring_free(again);
	mob_keyring_free(kr);
	return 0;
}
