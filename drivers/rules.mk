# Driver layers: static libraries linked into their services, tests and benches.
MODBUS_DRV_SRCS := $(wildcard drivers/modbus/*.c)
GPIO_DRV_SRCS   := $(wildcard drivers/gpio/*.c)
LIBMBDRV   := $(BUILD)/libmbdrv.a
LIBGPIODRV := $(BUILD)/libgpiodrv.a

$(LIBMBDRV): $(call objs,$(MODBUS_DRV_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBGPIODRV): $(call objs,$(GPIO_DRV_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Tests and benches of the drivers link them (test_*: tests/rules.mk's recipe).
$(BUILD)/tests/test_modbus $(BUILD)/bench/bench_modbus: $(LIBMBDRV)
$(BUILD)/tests/test_gpio $(BUILD)/bench/bench_gpio: $(LIBGPIODRV)
$(BUILD)/tests/test_modbus $(BUILD)/bench/bench_modbus: LIBS := $(LIBMBDRV) $(LIBS) -lm
$(BUILD)/tests/test_gpio $(BUILD)/bench/bench_gpio: LIBS := $(LIBGPIODRV) $(LIBS)
