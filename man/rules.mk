# Man pages, written in scdoc (Debian's scdoc builds them): man/NAME.N.scd
# becomes $(BUILD)/man/manN/NAME.N.  Every installed program and config
# file has one; tests/test_man.c checks them with `man --warnings` and
# against each program's --help.
MAN_SRCS := $(wildcard man/*.scd)
man_page = $(BUILD)/man/man$(patsubst .%,%,$(suffix $(basename $(1))))/$(notdir $(basename $(1)))
MANPAGES := $(foreach s,$(MAN_SRCS),$(call man_page,$(s)))

.PHONY: man
man: $(MANPAGES)
all: $(MANPAGES)

$(BUILD)/man/man1/%.1: man/%.1.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/man5/%.5: man/%.5.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/man8/%.8: man/%.8.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@
