# mobius-sandbox-probe: applies a profile, then tries one thing (tests only;
# not installed, and kept in a subdirectory so it stays out of libmobius).
SB_PROBE := $(BUILD)/bin/mobius-sandbox-probe
PROGRAMS += $(SB_PROBE)

$(SB_PROBE): $(call objs,sandbox/probe/probe.c) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(LIBS)
