# What lib/ holds, read by the main build (Makefile) and the fuzz build
# (fuzz/Makefile.fuzz) alike: the layers, lowest first (docs/architecture.md),
# and their sources.  A module may keep its files in a folder of its layer
# (lib/rt/service/) with a private internal.h.
LAYERS   := sys core keys rt
LIB_SRCS := $(foreach l,$(LAYERS),$(wildcard lib/$(l)/*.c lib/$(l)/*/*.c))
