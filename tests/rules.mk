# Every tests/test_*.c is one Criterion binary, linked with the harness.
# A component adds objects to one of its tests with a target-specific
# TEST_OBJS (and the same objects as prerequisites), as hub/rules.mk does.
TEST_SRCS := $(wildcard tests/test_*.c)
TESTS     += $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TH_OBJS   := $(call objs,$(wildcard tests/support/*.c))
# Kept: as intermediates make deleted them after every build, and the next
# build compiled the whole suite again.
.SECONDARY: $(call objs,$(TEST_SRCS))

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TH_OBJS) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(TEST_OBJS) $(TH_OBJS) $(LIBS) -lcriterion
