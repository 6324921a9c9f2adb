# mobius-keytool: creates and manages every key of a node (docs/keys.md).
KEYTOOL_SRCS := $(wildcard keys/*.c)
KEYTOOL_OBJS := $(call objs,$(KEYTOOL_SRCS))
PROGRAMS += $(BUILD)/bin/mobius-keytool
INSTALL_BIN += $(BUILD)/bin/mobius-keytool

$(BUILD)/bin/mobius-keytool: $(KEYTOOL_OBJS) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(KEYTOOL_OBJS) $(LIBS)
