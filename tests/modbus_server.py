#!/usr/bin/python3
"""A Modbus device for tests, benches and demos (pymodbus 3.0, Debian's).

Serves every unit id given with --units, each with its own four tables
(coils, discrete inputs, holding and input registers) of --size entries at
addresses 0..size-1; any address beyond is answered with exception 2
(illegal data address).  --limit ADDR=MAX makes a write of a value above MAX
to holding register ADDR answer exception 3 (illegal data value), as a real
device refuses an out-of-range setpoint.

Seeded so reads are predictable: input register i holds i, discrete input i
is i % 2; coils and holding registers start at 0 (--seed-file may set any of
them, one "TABLE ADDR VALUE" a line, TABLE one of co di hr ir).

--churn makes every read of holding registers see them one higher than
the read before (bench_modbus: a COV per register per poll).

--demo makes input registers 0..3 of every unit drift once a second and
sets holding registers 10..11 to 21.0 (float32), for `make run`
(services/modbus/demo.json).  --ready-file is written once the server listens.

With both --port and --rtu one device answers on both (tests look at its
registers over TCP while the master under test owns the serial line).

Usage: modbus_server.py [--port N] [--rtu PTY [--baud B]] [--units 1,2]
"""
import argparse
import asyncio
import logging
import math
import os
import signal
import sys
import time

from pymodbus import pdu
from pymodbus.datastore import (ModbusSequentialDataBlock,
                                ModbusServerContext, ModbusSlaveContext)
from pymodbus.register_write_message import (WriteMultipleRegistersRequest,
                                             WriteSingleRegisterRequest)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

LIMITS = {}


def over_limit(address, values):
    for i, v in enumerate(values):
        lim = LIMITS.get(address + i)
        if lim is not None and v > lim:
            return True
    return False


class LimitedWriteSingle(WriteSingleRegisterRequest):
    def execute(self, context):
        if over_limit(self.address, [self.value]):
            return self.doException(pdu.ModbusExceptions.IllegalValue)
        return super().execute(context)


class LimitedWriteMultiple(WriteMultipleRegistersRequest):
    def execute(self, context):
        if over_limit(self.address, self.values or []):
            return self.doException(pdu.ModbusExceptions.IllegalValue)
        return super().execute(context)


class ChurnBlock(ModbusSequentialDataBlock):
    """Every read sees each register one higher than the last (benches)."""

    def getValues(self, address, count=1):
        vals = super().getValues(address, count)
        start = address - self.address
        self.values[start:start + count] = [(v + 1) & 0xFFFF for v in vals]
        return vals


def make_unit(size, churn=False):
    hr = (ChurnBlock if churn else ModbusSequentialDataBlock)(0, [0] * size)
    return ModbusSlaveContext(
        co=ModbusSequentialDataBlock(0, [0] * size),
        di=ModbusSequentialDataBlock(0, [i % 2 for i in range(size)]),
        hr=hr,
        ir=ModbusSequentialDataBlock(0, [i & 0xFFFF for i in range(size)]),
        zero_mode=True)


FC = {"co": 1, "di": 2, "hr": 3, "ir": 4}


def seed(units, path):
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) != 3 or parts[0] not in FC:
                sys.exit(f"{path}:{n}: expected 'co|di|hr|ir ADDR VALUE'")
            for u in units.values():
                u.setValues(FC[parts[0]], int(parts[1], 0), [int(parts[2], 0)])


async def demo(units):
    for u in units.values():
        u.setValues(3, 10, [0x41A8, 0x0000])  # setpoint 21.0 as float32 ABCD
    t0 = time.monotonic()
    while True:
        t = time.monotonic() - t0
        for u in units.values():
            u.setValues(4, 0, [int(215 + 15 * math.sin(t / 20)),
                               int(450 + 50 * math.sin(t / 33)),
                               int(t) & 0xFFFF,
                               int(1000 + 200 * math.sin(t / 7))])
        await asyncio.sleep(1)


async def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, help="TCP port on --host")
    ap.add_argument("--rtu", help="serial device (e.g. one end of a socat pty pair)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--units", default="1", help="comma-separated unit ids")
    ap.add_argument("--size", type=int, default=1000, help="entries per table")
    ap.add_argument("--limit", action="append", default=[], metavar="ADDR=MAX")
    ap.add_argument("--seed-file")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--churn", action="store_true",
                    help="holding registers change on every read (benches)")
    ap.add_argument("--ready-file")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    if a.port is None and a.rtu is None:
        ap.error("--port, --rtu or both (one device, two ways in)")
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.CRITICAL)
    for item in a.limit:
        addr, _, mx = item.partition("=")
        LIMITS[int(addr, 0)] = int(mx, 0)
    units = {int(u, 0): make_unit(a.size, a.churn) for u in a.units.split(",")}
    if a.seed_file:
        seed(units, a.seed_file)
    ctx = ModbusServerContext(slaves=units, single=False)

    servers = []
    if a.port is not None:
        servers.append(ModbusTcpServer(ctx, ModbusSocketFramer, None,
                                       (a.host, a.port),
                                       allow_reuse_address=True))
    if a.rtu is not None:
        servers.append(ModbusSerialServer(ctx, ModbusRtuFramer, port=a.rtu,
                                          baudrate=a.baud, timeout=0.01))
    for server in servers:
        for f in (LimitedWriteSingle, LimitedWriteMultiple):
            server.decoder.register(f)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    tasks = []
    for server in servers:
        if isinstance(server, ModbusTcpServer):
            tasks.append(asyncio.create_task(server.serve_forever()))
            await server.serving
        else:
            await server.start()
    if a.demo:
        tasks.append(asyncio.create_task(demo(units)))
    if a.ready_file:
        tmp = a.ready_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(tmp, a.ready_file)
    await stop.wait()
    for t in tasks:
        t.cancel()
    for server in servers:
        await server.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
