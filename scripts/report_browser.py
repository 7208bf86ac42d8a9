#!/usr/bin/env python3
"""Drives headless Chromium for the report's browser tests, with nothing but the standard library.

    report_browser.py scenario STEPS.json   run a scenario over the DevTools protocol; prints one JSON object

A scenario is {"page": PATH, "width": W, "height": H, "steps": [...]}; each step is one of
    {"eval": EXPR}                               the value of a JavaScript expression (promises awaited)
    {"click": SELECTOR}                          a real mouse click (Input.dispatchMouseEvent) on the element's centre
    {"key": KEY, "focus": SELECTOR}              focus the element, then press KEY (e.g. "ArrowRight")
    {"hoverPoint": SELECTOR, "index": I}         move the mouse onto point I of an SVG polyline
    {"screenshot": PATH}                         a PNG of the viewport, with pixel statistics
    {"html": true}                               the document's markup as it stands (DOM.getOuterHTML)
"javascript": false runs the page with scripts off (Emulation.setScriptExecutionDisabled).
    {"wait": MS}
The output: {"requests": [url...], "console": [{"level", "text"}], "exceptions": [text...], "results": [...]}.
Every request the page makes is listed (the page itself first), so a self-contained page lists only its own file.

Chromium runs on 127.0.0.1 with a port it picks (read back from DevToolsActivePort), in a fresh profile, and is
stopped by its pid before this exits, whatever happens.
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

CHROMIUM = os.environ.get("PIPE_CHROMIUM", "chromium")
BASE_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
]


class WebSocket:
    """The client half of RFC 6455, enough for the DevTools protocol: text frames, masking, fragments, ping."""

    def __init__(self, url):
        assert url.startswith("ws://")
        host_port, _, path = url[len("ws://"):].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError("DevTools refused the WebSocket upgrade: " + head.decode(errors="replace"))

    def send(self, text):
        payload = text.encode()
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack(">H", len(payload))
        else:
            header.append(0x80 | 127)
            header += struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            message += payload
            if first & 0x80:
                return message.decode()


class Page:
    """One page target: numbered commands, and every event kept for the report."""

    def __init__(self, socket_url):
        self.ws = WebSocket(socket_url)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, seconds=20):
        deadline = time.time() + seconds
        for event in self.events:
            if event.get("method") == method:
                return event
        self.ws.sock.settimeout(1)
        while time.time() < deadline:
            try:
                message = json.loads(self.ws.receive())
            except socket.timeout:
                continue
            self.events.append(message)
            if message.get("method") == method:
                self.ws.sock.settimeout(30)
                return message
        raise TimeoutError(f"no {method} within {seconds} s")

    def drain(self, seconds):
        """Collects events for a while (late requests, console messages)."""
        self.ws.sock.settimeout(0.1)
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                self.events.append(json.loads(self.ws.receive()))
            except socket.timeout:
                continue
        self.ws.sock.settimeout(30)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(f"{expression!r} threw: {details.get('exception', {}).get('description', details)}")
        return result.get("result", {}).get("value")


def start_chromium(profile):
    process = subprocess.Popen(
        [CHROMIUM, *BASE_FLAGS, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode} before DevTools came up")
        try:
            with open(port_file) as handle:
                lines = handle.read().split()
            if lines:
                return process, int(lines[0])
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    raise TimeoutError("chromium's DevTools port did not appear within 30 s")


def stop(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def png_statistics(data):
    """Decodes an 8-bit RGB(A) PNG (what Chromium writes) and says how much of it is not white."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, width, height, channels = 8, b"", 0, 0, 0
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth}/{colour}"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours, non_white = set(), 0
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        for x in range(0, stride, channels * 2):  # every other pixel is plenty for statistics
            pixel = bytes(line[x:x + 3])
            colours.add(pixel)
            if pixel != b"\xff\xff\xff":
                non_white += 1
        previous = line
    sampled = height * ((width + 1) // 2)
    return {"width": width, "height": height, "distinctColours": len(colours),
            "nonWhiteFraction": non_white / max(1, sampled)}


def run_scenario(scenario):
    profile = tempfile.mkdtemp(prefix="pipe-report-chromium-")
    process = None
    try:
        process, port = start_chromium(profile)
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page_target = next(t for t in targets if t.get("type") == "page")
        page = Page(page_target["webSocketDebuggerUrl"])
        for domain in ("Page", "Network", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=scenario.get("width", 1280),
                  height=scenario.get("height", 900), deviceScaleFactor=1, mobile=False)
        if not scenario.get("javascript", True):
            page.call("Emulation.setScriptExecutionDisabled", value=True)
        page.events.clear()
        url = "file://" + os.path.abspath(scenario["page"])
        page.call("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        page.drain(0.3)
        results = []
        for step in scenario.get("steps", []):
            if "eval" in step:
                results.append(page.evaluate(step["eval"]))
            elif "click" in step:
                x, y = page.evaluate(
                    "(() => { const e = document.querySelector(%s); e.scrollIntoView({block: 'center'});"
                    " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
                    % json.dumps(step["click"]))
                page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
                page.call("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", clickCount=1)
                page.call("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left", clickCount=1)
                results.append([x, y])
            elif "key" in step:
                page.evaluate("document.querySelector(%s).focus()" % json.dumps(step["focus"]))
                for kind in ("rawKeyDown", "keyUp"):
                    page.call("Input.dispatchKeyEvent", type=kind, key=step["key"], code=step["key"],
                              windowsVirtualKeyCode={"ArrowRight": 39, "ArrowLeft": 37, "ArrowUp": 38,
                                                     "ArrowDown": 40, "Enter": 13}.get(step["key"], 0))
                results.append(True)
            elif "hoverPoint" in step:
                x, y = page.evaluate(
                    "(() => { const l = document.querySelector(%s); l.ownerSVGElement.scrollIntoView({block: 'center'});"
                    " const p = l.points.getItem(%d); let q = l.ownerSVGElement.createSVGPoint(); q.x = p.x; q.y = p.y;"
                    " q = q.matrixTransform(l.getScreenCTM()); return [q.x, q.y]; })()"
                    % (json.dumps(step["hoverPoint"]), int(step.get("index", 0))))
                page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
                results.append([x, y])
            elif "screenshot" in step:
                shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
                with open(step["screenshot"], "wb") as handle:
                    handle.write(shot)
                results.append(png_statistics(shot))
            elif "html" in step:
                root = page.call("DOM.getDocument", depth=-1)["root"]
                results.append(page.call("DOM.getOuterHTML", nodeId=root["nodeId"])["outerHTML"])
            elif "wait" in step:
                page.drain(step["wait"] / 1000)
                results.append(True)
        page.drain(0.2)
        requests = [e["params"]["request"]["url"] for e in page.events if e.get("method") == "Network.requestWillBeSent"]
        console = [{"level": e["params"]["type"], "text": " ".join(str(a.get("value", a.get("description", "")))
                                                                    for a in e["params"].get("args", []))}
                   for e in page.events if e.get("method") == "Runtime.consoleAPICalled"]
        console += [{"level": e["params"]["entry"]["level"], "text": e["params"]["entry"].get("text", "")}
                    for e in page.events if e.get("method") == "Log.entryAdded"]
        exceptions = [e["params"]["exceptionDetails"].get("exception", {}).get("description")
                      or e["params"]["exceptionDetails"].get("text", "")
                      for e in page.events if e.get("method") == "Runtime.exceptionThrown"]
        return {"requests": requests, "console": console, "exceptions": exceptions, "results": results}
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(profile, ignore_errors=True)


def main(arguments):
    if len(arguments) >= 2 and arguments[0] == "scenario":
        with open(arguments[1]) as handle:
            print(json.dumps(run_scenario(json.load(handle))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main(sys.argv[1:]))
