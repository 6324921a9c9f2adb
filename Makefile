# Mobius — top-level Makefile.
#
# Each component keeps its own rules in DIR/rules.mk (included below), so a
# component is added without touching this file.  Everything is built under
# $(BUILD); `make SAN=1` builds an ASan+UBSan tree under build/san.

PREFIX  ?= /usr
DESTDIR ?=
SAN     ?=
BUILD   ?= $(if $(SAN),build/san,build)

CC      ?= cc
PKGS    := libcrypto libsodium libcjson libmosquitto libsystemd libseccomp libgpiod libmodbus
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
ifeq ($(SAN),)
OPT     := -O2 -g -D_FORTIFY_SOURCE=2
else
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
CFLAGS  ?=
# lib/ is in layers, lowest first (docs/architecture.md); headers live in
# LAYER/mobius/ and are included as "mobius/NAME.h".  A layer's objects are
# compiled seeing only its own and lower layers' headers, so an upward
# include fails the build.
include lib/sources.mk
INC_ALL := $(foreach l,$(LAYERS),-Ilib/$(l)) -Isandbox
INC     ?= $(INC_ALL)
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -fstack-protector-strong -fPIC \
           $(INC) $(PKG_CFLAGS) -MMD -MP
SAN_LDFLAGS := -fsanitize=address,undefined
LDFLAGS += $(if $(SAN),$(SAN_LDFLAGS)) -Wl,-z,relro,-z,now
EXE_LDFLAGS := -pie
LIBMOB  := $(BUILD)/libmobius.a
# sandbox/ is a library of its own (docs/security.md): lib/rt's daemon
# skeleton calls into it and it logs through lib/sys, hence the group.
# The hub plugin links the exec lock's object alone (hub/rules.mk).
LIBSB   := $(BUILD)/libmobius-sandbox.a
SB_LOCK_OBJ := $(BUILD)/obj/sandbox/lock_exec.o
LIBS    := -Wl,--start-group $(LIBMOB) $(LIBSB) -Wl,--end-group $(PKG_LIBS) \
           -lpthread -lm

# objs: map sources to objects in $(BUILD)
objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

PROGRAMS :=
PLUGINS  :=
TESTS    :=
BENCHES  :=
FUZZERS  :=
INSTALL_BIN :=

.PHONY: all programs check check-normal check-san check-fuzz check-units check-systemd run bench bench-build fuzz fuzz-merge install clean deps deb
all: $(LIBMOB)

SB_SRCS := $(wildcard sandbox/*.c)
$(BUILD)/obj/lib/sys/%.o:  INC = -Ilib/sys
$(BUILD)/obj/lib/core/%.o: INC = -Ilib/sys -Ilib/core
$(BUILD)/obj/lib/keys/%.o: INC = -Ilib/sys -Ilib/core -Ilib/keys
$(BUILD)/obj/lib/sys/version.o: CFLAGS += $(VERSION_DEF)
$(BUILD)/obj/lib/sys/version.o: debian/changelog

$(BUILD)/obj/sandbox/%.o:  INC = -Ilib/sys -Isandbox

# Whatever links libmobius.a links the sandbox too: a change to either
# relinks the programs.
$(LIBMOB): $(call objs,$(LIB_SRCS)) $(LIBSB)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(LIBSB): $(call objs,$(SB_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

include $(sort $(wildcard */rules.mk))

all: $(PROGRAMS) $(PLUGINS) $(TESTS)

# Install the Debian packages listed in debian-deps.txt that are missing.
deps:
	@scripts/deps.sh debian-deps.txt

check: deps
	$(MAKE) check-normal
	$(MAKE) check-san
	$(MAKE) check-fuzz

# Exposure of every unit against its target, and systemd-analyze verify
# (make check runs it too, as test_sandbox's units test).
check-units: man
	scripts/systemd-scores.sh systemd $(BUILD)/man

check-normal: all
	scripts/run-tests.sh $(BUILD) $(TESTS)

check-san:
	$(MAKE) SAN=1 all
	scripts/run-tests.sh build/san $(patsubst build/%,build/san/%,$(TESTS))

# Sub-makes so pkg-config runs after deps has installed the packages.
# Only what a node runs: not the test suite (issue 15: a warm run starts
# in under 3 s).
run: deps
	$(MAKE) $(PROGRAMS) $(PLUGINS)
	scripts/run-node.sh $(BUILD)

bench: deps
	$(MAKE) all bench-build
	scripts/run-bench.sh $(BENCHES)

bench-build: $(BENCHES)

# Every fuzz target, CHECK_FUZZ_TIME (10) s each from tests/fuzz/corpus.
check-fuzz:
	$(MAKE) -f fuzz/Makefile.fuzz fuzz-check

fuzz: deps
	$(MAKE) -f fuzz/Makefile.fuzz

# Minimise what `make fuzz` found into the corpus kept in the repo.
fuzz-merge:
	$(MAKE) -f fuzz/Makefile.fuzz fuzz-merge

UNITS := $(wildcard systemd/*.service)
UNITDIR ?= /lib/systemd/system

# What a package ships (the package builds this, not the tests).
programs: $(INSTALL_BIN) $(PLUGINS) $(MANPAGES)

install: programs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/mobius \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/share/doc/mobius \
	    $(DESTDIR)$(PREFIX)/share/mobius/examples $(DESTDIR)$(PREFIX)/lib/udev/rules.d
	$(foreach p,$(INSTALL_BIN),install -m 0755 $(p) $(DESTDIR)$(PREFIX)/bin/;)
	$(foreach p,$(PLUGINS),install -m 0644 $(p) $(DESTDIR)$(PREFIX)/lib/mobius/;)
	install -m 0644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 0644 systemd/sysusers.d/mobius.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/
	install -m 0644 systemd/tmpfiles.d/mobius.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/
	install -m 0644 systemd/udev/60-mobius-gpio.rules $(DESTDIR)$(PREFIX)/lib/udev/rules.d/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/mobius/
	install -m 0644 services/sim/sim.json $(DESTDIR)$(PREFIX)/share/mobius/examples/sim.json
	install -m 0644 services/modbus/demo.json $(DESTDIR)$(PREFIX)/share/mobius/examples/modbus.json
	install -m 0644 services/gpio/demo.json $(DESTDIR)$(PREFIX)/share/mobius/examples/gpio.json
	install -m 0644 systemd/hub-tcp.conf systemd/modbus-rtu.conf $(DESTDIR)$(PREFIX)/share/mobius/
	install -d $(DESTDIR)/etc/mobius
	install -m 0644 etc/hub.conf $(DESTDIR)/etc/mobius/hub.conf
	$(foreach s,1 5 8,install -d $(DESTDIR)$(PREFIX)/share/man/man$(s);)
	$(foreach m,$(MANPAGES),install -m 0644 $(m) $(DESTDIR)$(PREFIX)/share/man/$(notdir $(patsubst %/,%,$(dir $(m))))/;)

# A Debian package (.deb) in build/deb/: dpkg-buildpackage with debian/,
# its outputs moved out of the parent directory (debug symbols included),
# the build's own files under debian/ removed, then lintian --pedantic.
deb: deps
	rm -rf build/deb
	dpkg-buildpackage -b -us -uc
	mkdir -p build/deb
	mv ../mobius_*.deb ../mobius-dbgsym_*.deb ../mobius_*.buildinfo ../mobius_*.changes build/deb/
	dh_clean
	@! git status --porcelain --ignored -- debian 2>/dev/null | grep -E '^(\?\?|!!)' || \
	    { echo "make deb: the build left files under debian/" >&2; exit 1; }
	lintian --pedantic --fail-on error,warning build/deb/mobius_*.changes
	ls build/deb

# Boots systemd in a container and runs the node as an administrator
# would, from `apt install` to purge (scripts/check-systemd.sh).  Not part
# of `make check`: it needs root, systemd-container and a few minutes.
check-systemd:
	scripts/check-systemd.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
