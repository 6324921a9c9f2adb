# The hub: the mosquitto plugin and its launcher (docs/hub.md).
HUB_PLUGIN_SRCS := hub/plugin.c hub/opts.c hub/auth.c hub/session.c hub/acl.c hub/message.c \
	hub/clients.c hub/ident.c hub/log.c hub/reqs.c \
	hub/keys.c hub/state.c hub/table.c
HUB_PLUGIN := $(BUILD)/lib/mobius_hub.so
PLUGINS += $(HUB_PLUGIN)
PROGRAMS += $(BUILD)/bin/mobius-hub
INSTALL_BIN += $(BUILD)/bin/mobius-hub

# Only what the plugin uses: libmosquitto (the client library) must not be
# loaded into the broker, whose own mosquitto_* symbols the plugin binds to.
# libsystemd (watchdog pings) is one Debian's mosquitto already loads;
# libseccomp forbids exec once the plugin is in (mob_sandbox_lock_exec).
HUB_PLUGIN_LIBS = $(shell pkg-config --libs libcrypto libsodium libcjson libsystemd libseccomp 2>/dev/null)

$(HUB_PLUGIN): $(call objs,$(HUB_PLUGIN_SRCS)) $(SB_LOCK_OBJ) $(LIBMOB) hub/plugin.map
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,--version-script=hub/plugin.map -o $@ \
		$(call objs,$(HUB_PLUGIN_SRCS)) $(SB_LOCK_OBJ) $(LIBMOB) $(HUB_PLUGIN_LIBS)

# opts.c: the launcher checks hub.conf with the plugin's own parser.
$(BUILD)/bin/mobius-hub: $(call objs,hub/mobius-hub.c hub/opts.c) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(call objs,hub/mobius-hub.c hub/opts.c) $(LIBS)

# The plugin's modules are unit-tested by linking their objects against a
# stand-in for the few broker functions they call (tests/test_hub_unit.c).
$(BUILD)/tests/test_hub_unit: $(call objs,$(HUB_PLUGIN_SRCS))
$(BUILD)/tests/test_hub_unit: TEST_OBJS = $(call objs,$(HUB_PLUGIN_SRCS))
