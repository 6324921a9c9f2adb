# mobius-router (node peering through an untrusted broker) and mobius-front
# (the ws/wss front of a mosquitto TCP listener): docs/router.md.
ROUTER_LIBS = $(shell pkg-config --libs libwebsockets libsodium 2>/dev/null)
ROUTER_COMMON := router/frame.c router/queue.c router/pump.c
ROUTER_SRCS := router/router.c router/config.c router/ws.c $(ROUTER_COMMON)
FRONT_SRCS := router/front.c router/pump.c
ROUTER_BIN := $(BUILD)/bin/mobius-router
FRONT_BIN := $(BUILD)/bin/mobius-front
PROGRAMS += $(ROUTER_BIN) $(FRONT_BIN)
INSTALL_BIN += $(ROUTER_BIN) $(FRONT_BIN)
# the router's modules for tests (frame, queue)
ROUTER_TEST_OBJS := $(call objs,router/frame.c router/queue.c)

$(ROUTER_BIN): $(call objs,$(ROUTER_SRCS)) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(call objs,$(ROUTER_SRCS)) $(LIBS) $(ROUTER_LIBS)

$(FRONT_BIN): $(call objs,$(FRONT_SRCS)) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(call objs,$(FRONT_SRCS)) $(LIBS) $(ROUTER_LIBS)

# Tests of the router's own modules link them (they are not in libmobius).
ROUTER_TEST_DEPS := $(call objs,$(wildcard tests/support/*.c)) $(LIBMOB) $(ROUTER_TEST_OBJS)
$(BUILD)/tests/test_router_frame $(BUILD)/tests/test_router_queue: $(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(ROUTER_TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(ROUTER_TEST_DEPS) $(LIBS) $(ROUTER_LIBS) -lcriterion

# Two nodes peered through a no-man's broker on this machine (docs/router.md).
.PHONY: run-peers run-broker check-router-slow
run-peers: deps
	$(MAKE) all
	scripts/run-peers.sh $(BUILD)

run-broker: deps
	$(MAKE) all
	scripts/run-broker.sh $(BUILD)

# The network tests with the full one-minute link cut (make check runs 10 s).
check-router-slow: all
	MOBIUS_ROUTER_CUT_S=60 scripts/run-tests.sh $(BUILD) $(BUILD)/tests/test_router_netns

# Peering through a two-node RabbitMQ cluster (slow; skipped, saying so,
# when rabbitmq-server is not installed).
.PHONY: check-rabbitmq
check-rabbitmq: all
	MOBIUS_RABBITMQ=1 scripts/run-tests.sh $(BUILD) $(BUILD)/tests/test_router_rabbitmq
