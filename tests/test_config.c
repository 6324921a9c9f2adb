/*
 * Configuration: strict JSON loading and service object configs, each
 * malformed file with its precise "file: path: message" error.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "mobius/config.h"
#include "mobius/err.h"
#include "mobius/keyring.h"
#include "mobius/service.h"

static char dir[256];
static char keyfile[300];

/* A service key file made with the library, so no hub is needed. */
static void
setup(void)
{
	struct mob_keyring *kr;
	struct mob_kr_entry e;

	snprintf(dir, sizeof(dir), "%s/mobius-cfg.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(keyfile, sizeof(keyfile), "%s/010.key", dir);
	cr_assert_eq(mob_keyring_new("000001", MOB_MODE_HARDENED, &kr), 0);
	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_SERVICE;
	snprintf(e.id, sizeof(e.id), "000001/010");
	snprintf(e.spid, sizeof(e.spid), "0010");
	e.alg = MOB_ALG_EDDSA;
	e.state = MOB_KS_ACTIVE;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), 0);
	cr_assert_eq(mob_keyring_save(kr, keyfile), 0);
	mob_keyring_free(kr);
}

static void
teardown(void)
{
	unlink(keyfile);
	rmdir(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Parse text as "sim.json" and configure a fresh service from it. */
static int
configure(const char *text, char *err, size_t errlen)
{
	struct mob_client_cfg ccfg = { 0 };
	struct mob_service *svc;
	struct mob_config *c;
	struct mob_cnode root;
	int rc;

	err[0] = '\0';
	if ((rc = mob_config_parse("sim.json", text, strlen(text), &c, err,
	    errlen)) != 0)
		return rc;
	ccfg.keyfile = keyfile;
	cr_assert_eq(mob_service_new(&ccfg, &svc), 0);
	mob_config_root(c, &root);
	if ((rc = mob_service_config(svc, c, &root, NULL)) != 0)
		snprintf(err, errlen, "%s", mob_config_error(c));
	mob_service_free(svc);
	mob_config_free(c);
	return rc;
}

#define RES(x)	"{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\",\"resources\":[" x "]}]}"
#define NUM	"\"rid\":\"40\",\"name\":\"t\",\"type\":\"number\""

Test(config, malformed_files_give_the_file_and_json_path)
{
	static const struct { const char *text, *err; } cases[] = {
		{ "{\"objects\": [", "sim.json:1:13: malformed JSON" },
		{ "{\n  \"objects\": []\n} x", "sim.json:3:3: malformed JSON" },
		{ "[]", "sim.json: must be an object" },
		{ "{}", "sim.json: objects: required" },
		{ "{\"objects\":{}}", "sim.json: objects: must be an array" },
		{ "{\"objects\":[], \"objects\":[]}", "sim.json: objects: duplicate member" },
		{ "{\"objects\":[3]}", "sim.json: objects[0]: must be an object" },
		{ "{\"objects\":[{\"pid\":\"101\",\"ins\":\"0001\",\"resources\":[]}]}",
		  "sim.json: objects[0].pid: must be 4 upper-case hex digits" },
		{ "{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\"}]}",
		  "sim.json: objects[0].resources: required" },
		{ "{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\",\"resources\":[],\"x\":1}]}",
		  "sim.json: objects[0].x: unknown member" },
		{ "{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\",\"resources\":[]},"
		  "{\"pid\":\"0101\",\"ins\":\"0001\",\"resources\":[]}]}",
		  "sim.json: objects[1]: duplicate object 0101/0001" },
		{ RES("{" NUM ",\"max\":\"5\"}"),
		  "sim.json: objects[0].resources[0].max: must be a number" },
		{ RES("{" NUM ",\"min\":5,\"max\":1}"),
		  "sim.json: objects[0].resources[0].max: must not be below min (5)" },
		{ RES("{\"rid\":\"40\",\"name\":\"t\",\"type\":\"float\"}"),
		  "sim.json: objects[0].resources[0].type: must be \"bool\", \"number\", "
		  "\"string\", \"datetime\" or \"timespan\"" },
		{ RES("{\"rid\":\"40\",\"type\":\"number\"}"),
		  "sim.json: objects[0].resources[0].name: required" },
		/* would be published and printed as invalid JSON text (issue 15) */
		{ RES("{\"rid\":\"40\",\"name\":\"t\xff\xfe\",\"type\":\"number\"}"),
		  "sim.json: objects[0].resources[0].name: not valid UTF-8 (save the "
		  "file as UTF-8)" },
		{ RES("{" NUM ",\"units\":\"\xb0" "C\"}"),
		  "sim.json: objects[0].resources[0].units: not valid UTF-8 (save the "
		  "file as UTF-8)" },
		{ RES("{" NUM ",\"access\":\"w\"}"),
		  "sim.json: objects[0].resources[0].access: must be \"r\" or \"rw\"" },
		{ RES("{\"rid\":\"4x\",\"name\":\"t\",\"type\":\"number\"}"),
		  "sim.json: objects[0].resources[0].rid: must be 2 upper-case hex digits" },
		{ RES("{\"rid\":\"01\",\"name\":\"t\",\"type\":\"string\"}"),
		  "sim.json: objects[0].resources[0].rid: 01 is reserved (00 parent, "
		  "01 name, 02 last-updated, 03 description, 04 location); use 0A-3F "
		  "for attributes, 40 and up for values" },
		{ RES("{" NUM "},{" NUM "}"),
		  "sim.json: objects[0].resources[1].rid: duplicate resource 40 in this object" },
		{ RES("{" NUM ",\"default\":true}"),
		  "sim.json: objects[0].resources[0].default: must be a number" },
		{ RES("{" NUM ",\"max\":10,\"default\":11}"),
		  "sim.json: objects[0].resources[0].default: out of range" },
		{ RES("{" NUM ",\"precision\":1.5}"),
		  "sim.json: objects[0].resources[0].precision: must be an integer" },
		{ RES("{" NUM ",\"precision\":16}"),
		  "sim.json: objects[0].resources[0].precision: must be between 0 and 15" },
		{ RES("{" NUM ",\"cov\":{\"st\":-1}}"),
		  "sim.json: objects[0].resources[0].cov.st: must not be negative" },
		{ RES("{" NUM ",\"cov\":{\"pmin\":10,\"pmax\":5}}"),
		  "sim.json: objects[0].resources[0].cov.pmax: must not be below pmin (10)" },
		{ RES("{" NUM ",\"cov\":{\"pmax\":1e300}}"),
		  "sim.json: objects[0].resources[0].cov.pmax: must be at most "
		  "2592000 seconds (30 days)" },
		{ RES("{" NUM ",\"cov\":{\"pmin\":2592001}}"),
		  "sim.json: objects[0].resources[0].cov.pmin: must be at most "
		  "2592000 seconds (30 days)" },
		{ RES("{" NUM ",\"cov\":{\"every\":1}}"),
		  "sim.json: objects[0].resources[0].cov.every: unknown member" },
		{ RES("{\"rid\":\"40\",\"name\":\"b\",\"type\":\"bool\",\"max\":1}"),
		  "sim.json: objects[0].resources[0].max: not allowed for type bool" },
		{ RES("{\"rid\":\"40\",\"name\":\"b\",\"type\":\"bool\",\"cov\":{\"st\":1}}"),
		  "sim.json: objects[0].resources[0].cov.st: only for numbers" },
		{ RES("{\"rid\":\"40\",\"name\":\"d\",\"type\":\"datetime\",\"default\":\"today\"}"),
		  "sim.json: objects[0].resources[0].default: must be an RFC 3339 UTC "
		  "datetime like \"2026-01-01T00:00:00Z\"" },
		{ RES("{" NUM ",\"units\":\"much too long units\"}"),
		  "sim.json: objects[0].resources[0].units: longer than 15 bytes" },
		{ RES("{" NUM ",\"sim\":{}}"),
		  "sim.json: objects[0].resources[0].sim: unknown member" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = configure(cases[i].text, err, sizeof(err));

		cr_expect_eq(rc, MOB_ECONFIG, "case %zu: rc %d", i, rc);
		cr_expect_str_eq(err, cases[i].err, "case %zu: got \"%s\"", i, err);
	}
}

Test(config, an_object_too_big_for_one_message_is_refused)
{
	const char *prefix = "sim.json: objects[0]: description too large for "
	    "one message (";
	char text[16384], err[512];
	size_t off = 0;

	off += (size_t)snprintf(text + off, sizeof(text) - off,
	    "{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\",\"resources\":[");
	for (int i = 0; i < 48; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "%s{\"rid\":\"%02X\",\"name\":\"resource with a long name %d\","
		    "\"type\":\"number\",\"min\":0,\"max\":1000,\"units\":\"Cel\"}",
		    i ? "," : "", 0x40 + i, i);
	snprintf(text + off, sizeof(text) - off, "]}]}");
	cr_assert_eq(configure(text, err, sizeof(err)), MOB_ECONFIG);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
	cr_assert(strstr(err, "at most 4608): split the object") != NULL, "%s", err);
}

Test(config, a_valid_file_builds_the_objects)
{
	char err[512];
	const char *text = "{\"name\":\"sim\",\"objects\":[{\"pid\":\"0101\","
	    "\"ins\":\"0002\",\"name\":\"room\",\"resources\":[{" NUM
	    ",\"access\":\"rw\",\"min\":0,\"max\":50,\"precision\":1,"
	    "\"units\":\"Cel\",\"default\":21.04,\"cov\":{\"st\":0.5,\"pmin\":1,"
	    "\"pmax\":60}}]}]}";
	struct mob_client_cfg ccfg = { 0 };
	struct mob_service *svc;
	struct mob_config *c;
	struct mob_cnode root;
	struct mob_object *o;
	const struct mob_res_def *d;
	struct mob_res *r;

	cr_assert_eq(mob_config_parse("sim.json", text, strlen(text), &c, err,
	    sizeof(err)), 0, "%s", err);
	ccfg.keyfile = keyfile;
	cr_assert_eq(mob_service_new(&ccfg, &svc), 0);
	cr_assert_str_eq(mob_client_id(mob_service_client(svc)), "000001/010");
	cr_assert_str_eq(mob_client_spid(mob_service_client(svc)), "0010");
	mob_config_root(c, &root);
	cr_assert_eq(mob_service_config(svc, c, &root, NULL), 0, "%s",
	    mob_config_error(c));
	cr_assert_eq(mob_service_nobjects(svc), 1);
	cr_assert_not_null(o = mob_service_object(svc, "0101", "0002"));
	cr_assert_str_eq(mob_object_name(o), "room");
	cr_assert_not_null(r = mob_object_res(o, "40"));
	d = mob_res_def(r);
	cr_assert_eq(d->access, MOB_ACCESS_RW);
	cr_assert_eq(d->precision, 1);
	cr_assert_str_eq(d->units, "Cel");
	cr_assert_eq(d->st, 0.5);
	cr_assert_eq(d->pmin, 1);
	cr_assert_eq(d->pmax, 60);
	cr_assert_float_eq(mob_res_pv(r)->u.num, 21.0, 1e-12);
	mob_service_free(svc);
	mob_config_free(c);
}

Test(config, typed_getters_report_absent_present_and_wrong)
{
	const char *text = "{\"a\":\"x\",\"n\":1.5,\"i\":7,\"b\":true,\"h\":\"00FF\"}";
	struct mob_config *c;
	struct mob_cnode root;
	const char *s = "dflt";
	double n = -1;
	long i = -1;
	int b = -1;
	char h[5], err[256];

	cr_assert_eq(mob_config_parse("t.json", text, strlen(text), &c, err,
	    sizeof(err)), 0);
	mob_config_root(c, &root);
	cr_assert_eq(mob_cfg_string(c, &root, "missing", 0, 10, &s), 0);
	cr_assert_str_eq(s, "dflt");
	cr_assert_eq(mob_cfg_string(c, &root, "missing", MOB_CFG_REQUIRED, 10, &s),
	    MOB_ECONFIG);
	cr_assert_str_eq(mob_config_error(c), "t.json: missing: required");
	cr_assert_eq(mob_cfg_string(c, &root, "a", 0, 10, &s), 1);
	cr_assert_str_eq(s, "x");
	cr_assert_eq(mob_cfg_number(c, &root, "n", 0, &n), 1);
	cr_assert_eq(n, 1.5);
	cr_assert_eq(mob_cfg_int(c, &root, "n", 0, 0, 10, &i), MOB_ECONFIG);
	cr_assert_eq(mob_cfg_int(c, &root, "i", 0, 0, 10, &i), 1);
	cr_assert_eq(i, 7);
	cr_assert_eq(mob_cfg_int(c, &root, "i", 0, 0, 5, &i), MOB_ECONFIG);
	cr_assert_str_eq(mob_config_error(c), "t.json: i: must be between 0 and 5");
	cr_assert_eq(mob_cfg_bool(c, &root, "b", 0, &b), 1);
	cr_assert_eq(b, 1);
	cr_assert_eq(mob_cfg_bool(c, &root, "a", 0, &b), MOB_ECONFIG);
	cr_assert_eq(mob_cfg_hex(c, &root, "h", 0, 4, h), 1);
	cr_assert_str_eq(h, "00FF");
	cr_assert_eq(mob_cfg_string(c, &root, "n", 0, 10, &s), MOB_ECONFIG);
	cr_assert_str_eq(mob_config_error(c), "t.json: n: must be a string, not a number");
	mob_config_free(c);
}

Test(config, load_names_missing_and_oversized_files)
{
	struct mob_config *c;
	char path[320], err[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/none.json", dir);
	cr_assert_eq(mob_config_load(path, &c, err, sizeof(err)), MOB_ESYS);
	cr_assert(strstr(err, "none.json: No such file") != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/big.json", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	for (int i = 0; i < MOB_CONFIG_MAX / 8 + 1; i++)
		fputs("        ", fp);
	fclose(fp);
	cr_assert_eq(mob_config_load(path, &c, err, sizeof(err)), MOB_ETOOLONG);
	cr_assert_null(c);
	unlink(path);
}

/* Before: open() without O_NONBLOCK waited for a writer for ever. */
Test(config, a_fifo_at_the_path_is_refused_without_blocking, .timeout = 20)
{
	struct mob_config *c;
	char path[320], err[512];

	snprintf(path, sizeof(path), "%s/fifo.json", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_expect_eq(mob_config_load(path, &c, err, sizeof(err)), MOB_ECONFIG);
	cr_expect_null(c);
	cr_expect_not_null(strstr(err, "not a regular file"), "%s", err);
	unlink(path);
}

Test(config, int_set_keeps_the_default_when_absent_and_stores_when_present)
{
	const char *text = "{\"i\":7,\"n\":1.5}";
	struct mob_config *c;
	struct mob_cnode root;
	char err[256];
	int v = 42;

	cr_assert_eq(mob_config_parse("t.json", text, strlen(text), &c, err,
	    sizeof(err)), 0);
	mob_config_root(c, &root);
	cr_assert_eq(mob_cfg_int_set(c, &root, "missing", 0, 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(mob_cfg_int_set(c, &root, "missing", MOB_CFG_REQUIRED, 0,
	    100, &v), MOB_ECONFIG);
	cr_assert_eq(v, 42);
	cr_assert_eq(mob_cfg_int_set(c, &root, "i", 0, 0, 100, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(mob_cfg_int_set(c, &root, "i", 0, 0, 5, &v), MOB_ECONFIG);
	cr_assert_str_eq(mob_config_error(c), "t.json: i: must be between 0 and 5");
	cr_assert_eq(mob_cfg_int_set(c, &root, "n", 0, 0, 100, &v), MOB_ECONFIG);
	cr_assert_eq(v, 7);
	mob_config_free(c);
}
