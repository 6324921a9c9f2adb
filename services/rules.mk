# Each service keeps its rules in services/NAME/rules.mk.
include $(sort $(wildcard services/*/rules.mk))
