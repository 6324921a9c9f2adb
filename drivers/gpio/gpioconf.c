/*
 * GPIO config: the service's "gpio" member (back-end, simulated chips) and
 * each resource's "gpio" member (the line).  See docs/hardware.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "mobius/config.h"
#include "mobius/err.h"
#include "gpiodrv.h"

static const char *const backends[] = { "gpiod", "sim", NULL };
static const char *const dirs[] = { "input", "output", NULL };
/* "none" is not offered: an input without events would never update. */
static const char *const edges[] = { "both", "rising", "falling", NULL };
static const char *const biases[] = { "as_is", "disable", "pull_up",
    "pull_down", NULL };

static int
ok(int r)
{
	return r < 0 ? r : 0;
}

static int
get_str(struct mob_config *c, const struct mob_cnode *n, const char *key,
    int flags, char *out, size_t len)
{
	const char *s = NULL;
	int r;

	if ((r = mob_cfg_string(c, n, key, flags, len - 1, &s)) == 1)
		snprintf(out, len, "%s", s);
	return r;
}

static int
parse_chip(struct mob_config *c, const struct mob_cnode *n,
    struct mob_gpio_sim_chip *chip)
{
	static const char *const keys[] = { "name", "lines", "line_names",
	    "pattern_ms", NULL };
	struct mob_cnode names, item;
	int r, i, cnt;

	memset(chip, 0, sizeof(*chip));
	chip->nlines = 8;
	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = get_str(c, n, "name", MOB_CFG_REQUIRED, chip->name,
	    sizeof(chip->name))) < 0 ||
	    (r = mob_cfg_int_set(c, n, "lines", 0, 1, MOB_GPIO_SIM_LINES_MAX,
	    &chip->nlines)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "pattern_ms", 0, 0, 3600000,
	    &chip->pattern_ms)) < 0 ||
	    (r = mob_cfg_member(c, n, "line_names", 0, &names)) < 0)
		return r;
	if (strchr(chip->name, '/') != NULL || chip->name[0] == '.')
		return mob_cfg_errorf(c, n, "name \"%s\" must be a plain file name",
		    chip->name);
	if (r == 0)
		return 0;
	if ((cnt = mob_cfg_array(c, &names, (size_t)chip->nlines)) < 0)
		return cnt;
	for (i = 0; i < cnt; i++) {
		mob_cfg_item(&names, (size_t)i, &item);
		if (!cJSON_IsString(item.j))
			return mob_cfg_errorf(c, &item, "must be a string");
		if (strlen(item.j->valuestring) >= sizeof(chip->line_names[i]))
			return mob_cfg_errorf(c, &item, "must be at most %zu bytes",
			    sizeof(chip->line_names[i]) - 1);
		snprintf(chip->line_names[i], sizeof(chip->line_names[i]), "%s",
		    item.j->valuestring);
	}
	return 0;
}

int
mob_gpio_backend_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_gpio_config *out)
{
	static const char *const keys[] = { "backend", "sim", NULL };
	static const char *const simkeys[] = { "dir", "chips", NULL };
	struct mob_cnode sim, chips, item;
	size_t i, j;
	int r, cnt;

	memset(out, 0, sizeof(*out));
	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = ok(mob_cfg_enum(c, n, "backend", MOB_CFG_REQUIRED, backends,
	    &out->sim))) < 0 ||
	    (r = mob_cfg_member(c, n, "sim", 0, &sim)) < 0)
		return r;
	/* With backend gpiod, "sim" is there for --sim (demos on any machine). */
	if (r == 0 && !out->sim)
		return 0;
	if (r == 0)
		return mob_cfg_errorf(c, n, "backend \"sim\" needs a \"sim\" member");
	if ((r = mob_cfg_object(c, &sim, simkeys)) < 0 ||
	    (r = get_str(c, &sim, "dir", 0, out->sim_dir,
	    sizeof(out->sim_dir))) < 0 ||
	    (r = mob_cfg_member(c, &sim, "chips", MOB_CFG_REQUIRED, &chips)) < 0 ||
	    (cnt = mob_cfg_array(c, &chips, 16)) < 0)
		return r < 0 ? r : cnt;
	if (cnt == 0)
		return mob_cfg_errorf(c, &chips, "needs at least one chip");
	if ((out->chips = calloc((size_t)cnt, sizeof(*out->chips))) == NULL)
		return MOB_ENOMEM;
	for (i = 0; i < (size_t)cnt; i++) {
		mob_cfg_item(&chips, i, &item);
		if ((r = parse_chip(c, &item, &out->chips[i])) < 0)
			goto fail;
		out->nchips++;
		for (j = 0; j < i; j++)
			if (strcmp(out->chips[j].name, out->chips[i].name) == 0) {
				r = mob_cfg_errorf(c, &item, "chip \"%s\" is "
				    "defined twice", out->chips[i].name);
				goto fail;
			}
	}
	return 0;
 fail:
	mob_gpio_config_free(out);
	return r;
}

int
mob_gpio_line_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_gpio_line_cfg *l)
{
	static const char *const keys[] = { "chip", "offset", "line", "direction",
	    "edge", "bias", "active_low", "debounce_ms", "initial", "safe", NULL };
	struct mob_cnode tmp;
	int r, has_off, has_line, dir = 0, e = 0, b = 0, safe = 0;

	memset(l, 0, sizeof(*l));
	l->offset = -1;
	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = get_str(c, n, "chip", 0, l->chip, sizeof(l->chip))) < 0 ||
	    (has_off = mob_cfg_int_set(c, n, "offset", 0, 0, 1023,
	    &l->offset)) < 0 ||
	    (has_line = get_str(c, n, "line", 0, l->line, sizeof(l->line))) < 0 ||
	    (r = ok(mob_cfg_enum(c, n, "direction", MOB_CFG_REQUIRED, dirs,
	    &dir))) < 0)
		return r < 0 ? r : has_off < 0 ? has_off : has_line;
	has_off = l->offset >= 0;
	if (has_off == (has_line == 1))
		return mob_cfg_errorf(c, n, "needs exactly one of \"offset\" or \"line\"");
	if (has_off && l->chip[0] == '\0')
		return mob_cfg_errorf(c, n, "\"offset\" needs \"chip\"");
	l->dir = (enum mob_gpio_dir)dir;
	if ((r = ok(mob_cfg_enum(c, n, "edge", 0, edges, &e))) < 0 ||
	    (r = ok(mob_cfg_enum(c, n, "bias", 0, biases, &b))) < 0 ||
	    (r = ok(mob_cfg_bool(c, n, "active_low", 0, &l->active_low))) < 0 ||
	    (r = mob_cfg_int_set(c, n, "debounce_ms", 0, 0, 60000,
	    &l->debounce_ms)) < 0 ||
	    (r = ok(mob_cfg_bool(c, n, "initial", 0, &l->initial))) < 0)
		return r;
	l->edge = (enum mob_gpio_edge)e;
	l->bias = (enum mob_gpio_bias)b;
	l->safe = l->initial;
	if ((r = ok(mob_cfg_bool(c, n, "safe", 0, &safe))) < 0)
		return r;
	if (mob_cfg_member(c, n, "safe", 0, &tmp) == 1)
		l->safe = safe;
	if (l->dir == MOB_GPIO_OUTPUT) {
		if (mob_cfg_member(c, n, "edge", 0, &tmp) == 1 ||
		    mob_cfg_member(c, n, "debounce_ms", 0, &tmp) == 1)
			return mob_cfg_errorf(c, &tmp, "only for inputs");
	} else {
		if (mob_cfg_member(c, n, "initial", 0, &tmp) == 1 ||
		    mob_cfg_member(c, n, "safe", 0, &tmp) == 1)
			return mob_cfg_errorf(c, &tmp, "only for outputs");
	}
	return 0;
}

static int
sim_name(const struct mob_gpio_sim_chip *chip, const char *name)
{
	int i;

	for (i = 0; i < chip->nlines; i++)
		if (strcmp(chip->line_names[i], name) == 0)
			return i;
	return -1;
}

int
mob_gpio_line_check(struct mob_config *c, const struct mob_cnode *n,
    const struct mob_gpio_config *cfg, const struct mob_gpio_line_cfg *l)
{
	const struct mob_gpio_sim_chip *chip = NULL;
	const struct mob_gpio_line_cfg *o;
	size_t i;

	for (i = 0; i < cfg->nlines; i++) {
		o = &cfg->lines[i];
		if (o == l)
			continue;
		if ((l->offset >= 0 && o->offset == l->offset &&
		    strcmp(o->chip, l->chip) == 0) ||
		    (l->offset < 0 && o->offset < 0 && strcmp(o->line, l->line) == 0))
			return mob_cfg_errorf(c, n, "the line is already "
			    "resource \"%s\"", o->name);
	}
	if (!cfg->sim)
		return 0;
	for (i = 0; i < cfg->nchips; i++) {
		if (l->chip[0] != '\0' ? strcmp(cfg->chips[i].name, l->chip) == 0 :
		    sim_name(&cfg->chips[i], l->line) >= 0) {
			chip = &cfg->chips[i];
			break;
		}
	}
	if (chip == NULL && l->chip[0] != '\0')
		return mob_cfg_errorf(c, n, "no sim chip \"%s\"", l->chip);
	if (chip == NULL || (l->offset < 0 && sim_name(chip, l->line) < 0))
		return mob_cfg_errorf(c, n, "no sim line named \"%s\"", l->line);
	if (l->offset >= chip->nlines)
		return mob_cfg_errorf(c, n, "offset %d is past the %d lines of "
		    "sim chip \"%s\"", l->offset, chip->nlines, chip->name);
	return 0;
}

void
mob_gpio_config_free(struct mob_gpio_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->chips);
	free(cfg->lines);
	cfg->chips = NULL;
	cfg->lines = NULL;
	cfg->nchips = cfg->nlines = 0;
}
