# mobius-modbus: Modbus TCP/RTU master (services/modbus/demo.json is the demo config).
MODBUS_BIN := $(BUILD)/bin/mobius-modbus
PROGRAMS += $(MODBUS_BIN)
INSTALL_BIN += $(MODBUS_BIN)

$(MODBUS_BIN): $(call objs,services/modbus/modbus.c) $(LIBMBDRV) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(LIBMBDRV) $(LIBS) -lm
