#!/usr/bin/python3
"""WebSocket client for tests/test_api.c: Debian's python3-websocket, a
third-party implementation, against mobius-api's stream.

  api_ws.py stream URL TOKEN COUNT            print COUNT records, one a line
  api_ws.py until URL TOKEN URI VALUE SECS    read until URI has VALUE (exit 0)
  api_ws.py slow URL TOKEN READY PAUSE        tiny receive buffer, connect, touch
                                              READY, read nothing for PAUSE s,
                                              then drain; print "close CODE"
  api_ws.py refused URL TOKEN                 print the handshake's HTTP status
  api_ws.py count URL TOKEN READY N           touch READY once connected, read up to N
                                              records (3 s quiet ends it); print the count
                                              and the ms from the first to the last
  api_ws.py lines - - READY N CMD...          the same for the lines a command prints
                                              (READY 1.5 s after it started)
"""
import json
import os
import socket
import ssl
import sys
import time

import websocket

SSLOPT = {"cert_reqs": ssl.CERT_NONE}


def connect(url, token, **kw):
    return websocket.create_connection(
        url, header=["Authorization: Bearer " + token], sslopt=SSLOPT,
        timeout=10, **kw)


def main():
    mode, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "stream":
        ws = connect(url, token)
        for _ in range(int(sys.argv[4])):
            print(ws.recv(), flush=True)
        ws.close()
    elif mode == "until":
        uri, value, secs = sys.argv[4], json.loads(sys.argv[5]), float(sys.argv[6])
        ws = connect(url, token)
        end = time.time() + secs
        while time.time() < end:
            raw = ws.recv()
            print(raw, flush=True)
            rec = json.loads(raw)
            if rec.get("uri") == uri and rec.get("value") == value:
                ws.close()
                return 0
        return 1
    elif mode == "slow":
        ready, pause = sys.argv[4], float(sys.argv[5])
        # a small window so the server's queue, not the kernel, takes the flood
        ws = connect(url, token, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        open(ready, "w").close()
        time.sleep(pause)
        n = 0
        ws.settimeout(20)
        try:
            while True:
                op, data = ws.recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
                    print("read %d then close %d %s" % (n, code, data[2:].decode()),
                          flush=True)
                    return 0
                n += 1
        except Exception as e:  # the connection was dropped without a close frame
            print("read %d then dropped: %s" % (n, e), flush=True)
            return 0
    elif mode == "count":
        ready, want = sys.argv[4], int(sys.argv[5])
        ws = connect(url, token)
        open(ready, "w").close()
        ws.settimeout(3)
        n, first, last = 0, 0.0, 0.0
        try:
            while n < want:
                ws.recv()
                last = time.monotonic()
                if n == 0:
                    first = last
                n += 1
        except websocket.WebSocketTimeoutException:
            pass
        print("received %d in %d ms" % (n, (last - first) * 1000), flush=True)
    elif mode == "lines":
        import select
        import subprocess
        ready, want = sys.argv[4], int(sys.argv[5])
        proc = subprocess.Popen(sys.argv[6:], stdout=subprocess.PIPE)
        time.sleep(1.5)
        open(ready, "w").close()
        n, first, last = 0, 0.0, 0.0
        while n < want and select.select([proc.stdout], [], [], 3)[0]:
            if not proc.stdout.readline():
                break
            last = time.monotonic()
            if n == 0:
                first = last
            n += 1
        proc.terminate()
        proc.wait()
        print("received %d in %d ms" % (n, (last - first) * 1000), flush=True)
    elif mode == "refused":
        try:
            connect(url, token)
            print("accepted")
        except websocket.WebSocketBadStatusException as e:
            print("status %d" % e.status_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
