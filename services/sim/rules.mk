# mobius-sim: simulated sensors (services/sim/sim.json is the demo config).
SIM_BIN := $(BUILD)/bin/mobius-sim
PROGRAMS += $(SIM_BIN)
INSTALL_BIN += $(SIM_BIN)

$(SIM_BIN): $(call objs,services/sim/sim.c) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(LIBS)
