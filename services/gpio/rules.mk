# mobius-gpio: GPIO lines over libgpiod v1.6 or simulated chips
# (services/gpio/demo.json is the demo config).
GPIO_BIN := $(BUILD)/bin/mobius-gpio
PROGRAMS += $(GPIO_BIN)
INSTALL_BIN += $(GPIO_BIN)

$(GPIO_BIN): $(call objs,services/gpio/gpio.c) $(LIBGPIODRV) $(LIBMOB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $< $(LIBGPIODRV) $(LIBS)
