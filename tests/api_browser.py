#!/usr/bin/python3
"""The dashboard in headless Chromium, driven over the DevTools protocol
(python3-websocket), for tests/test_api_run.c.

  api_browser.py URL TOKEN TEMP_URI SETP_URI VALUE SCREENSHOT

Opens URL#token=TOKEN, waits until the row of TEMP_URI shows a value and
then a different one (live over the stream), types VALUE into the row of
SETP_URI and presses "set", waits until the row shows it, and saves a
screenshot.  Prints what it saw; exit 0 when everything happened.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.n = 0

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait(self, expr, secs, what):
        end = time.time() + secs
        while time.time() < end:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.2)
        raise RuntimeError("timed out waiting for " + what)


def row_value(uri):
    return ("(() => { const r = document.querySelector('tr[data-uri=\"%s\"] .value');"
            " return r && r.textContent !== '\u2026' ? r.textContent : null; })()" % uri)


def main():
    url, token, temp, setp, value, shot = sys.argv[1:7]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("SKIP: chromium is not installed")
        return 77
    profile = tempfile.mkdtemp(prefix="mobius-chromium-")
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + profile, "--remote-debugging-port=0",
         "--ignore-certificate-errors", "--window-size=1100,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        portfile = os.path.join(profile, "DevToolsActivePort")
        end = time.time() + 30
        while not os.path.exists(portfile) and time.time() < end:
            time.sleep(0.1)
        time.sleep(0.2)
        port = open(portfile).read().split()[0]
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
        page = Page([t for t in targets if t["type"] == "page"][0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=url + "/#token=" + token)

        first = page.wait(row_value(temp), 30, "a first value of " + temp)
        print("first value of %s: %s" % (temp, first), flush=True)
        changed = page.wait("(() => { const v = %s; return v !== null && v !== %s ? v : null; })()"
                            % (row_value(temp), json.dumps(first)), 60, "a change of " + temp)
        print("changed to: %s" % changed, flush=True)
        if page.js("document.getElementById('link').textContent") != "live":
            raise RuntimeError("the stream is not live")

        typed = page.js("""(() => {
            const row = document.querySelector('tr[data-uri="%s"]');
            const input = row && row.querySelector('input');
            if (!input) return false;
            input.value = %s;
            row.querySelector('button.set').click();
            return true; })()""" % (setp, json.dumps(value)))
        if not typed:
            raise RuntimeError("no editor on the row of " + setp)
        applied = page.wait("(() => { const v = %s; return v && v.startsWith(%s) ? v : null; })()"
                            % (row_value(setp), json.dumps(value)), 20, "the setpoint to show " + value)
        print("applied: %s" % applied, flush=True)

        png = page.call("Page.captureScreenshot", format="png")["data"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        print("screenshot: %s" % shot, flush=True)
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)
