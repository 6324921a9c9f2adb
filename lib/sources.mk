# What lib/ holds, read by the main build (Makefile) and the fuzz build
# (fuzz/Makefile.fuzz) alike: the layers, lowest first (docs/architecture.md),
# and their sources.  A module may keep its files in a folder of its layer
# (lib/rt/service/) with a private internal.h.
LAYERS   := sys core keys rt
LIB_SRCS := $(foreach l,$(LAYERS),$(wildcard lib/$(l)/*.c lib/$(l)/*/*.c))
# --version of every program: the top entry of debian/changelog, one home,
# given to lib/sys/version.c alone.
VERSION     := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
VERSION_DEF := -DMOB_VERSION='"$(VERSION)"'
