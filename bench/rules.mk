# Every bench/bench_*.c is one program; `make bench` runs them all.
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCHES    += $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
BENCH_SUPPORT := $(call objs,$(wildcard bench/support/*.c))

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCH_SUPPORT) $(TH_OBJS) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(BENCH_SUPPORT) $(TH_OBJS) $(LIBS) -lpaho-mqtt3as

# A node at 1 000 COV/s for SOAK_SECONDS (default an hour), figures every
# SOAK_INTERVAL seconds: a bench, never part of `make check`.
.PHONY: soak
soak: all
	bench/soak.sh $(BUILD)
