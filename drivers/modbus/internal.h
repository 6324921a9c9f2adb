/*
 * Inside the Modbus driver: the decoder on plain fields, so a poll reads
 * each block's compact point table instead of the full config structs.
 */
#ifndef MOBIUS_DRIVERS_MODBUS_INTERNAL_H
#define MOBIUS_DRIVERS_MODBUS_INTERNAL_H

#include "mbdrv.h"

double mob_mb_decode_raw(enum mob_mb_type t, int wl, int bl, double scale,
    double offset, const uint16_t *regs);

#endif
