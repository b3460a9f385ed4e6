"""Drives headless Chromium over the DevTools protocol to check `shimkit serve`'s dashboard.

    dashboard_check.py --chromium /usr/bin/chromium --url http://127.0.0.1:PORT/dashboard?refresh=0.5

Talks on stdin/stdout, one JSON document a line:
- it loads the page, waits until it shows `{"cycles": N, "cut_over": B}` (read from
  stdin; `cut_over` false when left out) and prints
  `{"shown": ...}`: what the page displays, as text, for the caller to compare with
  `migrate status --json`;
- each further `{"cycles": N}` on stdin waits for the page to show N cycles without a
  reload (a mark set in the page must survive) and prints what it shows again;
- `{"screenshot": PATH}` writes a PNG of the page;
- at end of input it prints `{"console_errors": [...]}`: every console error, uncaught
  exception and failed load the page logged, and exits.
"""

import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1300,1500",
]

# What the page shows, read from its DOM.
READ_PAGE = r"""
(() => {
  const t = (id) => document.getElementById(id).textContent;
  const paths = {};
  for (const row of document.querySelectorAll('#paths tbody tr')) {
    const cells = {};
    for (const td of row.querySelectorAll('td[data-field]')) cells[td.dataset.field] = td.textContent;
    paths[row.dataset.path] = cells;
  }
  const cycles = [];
  for (const row of document.querySelectorAll('#cycles tbody tr')) {
    cycles.push({cycle: Number(row.dataset.cycle),
                 share: row.querySelector('[data-field=share]').textContent,
                 decision: row.querySelector('[data-field=decision]').textContent});
  }
  const chart = [...document.querySelectorAll('#chart g[data-path]')].map((g) => g.dataset.path);
  const gate = document.querySelector('#chart line[data-gate]');
  return JSON.stringify({
    title: t('title'), share: t('share'), rows: t('rows'), decision: t('decision'),
    cutover: t('cutover-state'), cost_spent: t('cost-spent'), cost_to_go: t('cost-to-go'),
    paths, cycles, chart_paths: chart, gate_line: gate ? Number(gate.dataset.gate) : null,
    error_shown: getComputedStyle(document.getElementById('error')).display !== 'none',
    loads: window.shimkitDashboard.loads, mark: window.__checkMark || null,
  });
})()
"""


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.errors = []

    def _event(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append(d.get("exception", {}).get("description") or d.get("text"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(params["entry"].get("text"))

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(0.1)
        raise TimeoutError(f"the page never showed: {expression}")


def start_chromium(binary, profile):
    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    for line in process.stderr:
        found = re.search(r"DevTools listening on ws://([^/]+)/", line)
        if found:
            return process, found.group(1)
        if time.time() > deadline:
            break
    process.kill()
    raise RuntimeError("chromium did not start its DevTools endpoint")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    profile = tempfile.mkdtemp(prefix="shimkit-chromium-")
    process, host = start_chromium(args.chromium, profile)
    try:
        with urllib.request.urlopen(f"http://{host}/json/list", timeout=30) as r:
            targets = [t for t in json.load(r) if t.get("type") == "page"]
        page = Page(targets[0]["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Page"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url=args.url)
        first = True
        for line in sys.stdin:
            request = json.loads(line)
            if "cycles" in request:
                n = int(request["cycles"])
                cut_over = "true" if request.get("cut_over") else "false"
                page.wait_for(
                    f"window.shimkitDashboard && window.shimkitDashboard.cycles === {n}"
                    f" && window.shimkitDashboard.cutOver === {cut_over}"
                )
                if first:
                    page.evaluate("window.__checkMark = 'no reload since'")
                    first = False
                print(json.dumps({"shown": json.loads(page.evaluate(READ_PAGE))}), flush=True)
            elif "screenshot" in request:
                shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                with open(request["screenshot"], "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                print(json.dumps({"screenshot": request["screenshot"]}), flush=True)
        # Let the page go through one more refresh before the errors are read.
        loads = page.evaluate("window.shimkitDashboard.loads")
        page.wait_for(f"window.shimkitDashboard.loads > {loads}")
        page.call("Runtime.evaluate", expression="1")
        print(json.dumps({"console_errors": page.errors}), flush=True)
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
