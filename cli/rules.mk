# mobius: the command-line client.
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(call objs,$(CLI_SRCS))
PROGRAMS += $(BUILD)/bin/mobius
INSTALL_BIN += $(BUILD)/bin/mobius

$(BUILD)/bin/mobius: $(CLI_OBJS) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(CLI_OBJS) $(LIBS)
