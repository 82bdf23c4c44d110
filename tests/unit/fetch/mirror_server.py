#!/usr/bin/env python3
"""A local stand-in for release download sites, for the fetch tests.

Serves the files under --root on 127.0.0.1 (port 0: the kernel picks one; the
port is printed on stdout as the first line) with:
  * Range requests ("bytes=N-" and "bytes=N-M") answered with 206,
    and 416 when N is past the end;
  * --fail PATH:N   the first N requests for PATH get a 500;
  * --cut PATH      the first request for PATH sends half the body, with the
                    full Content-Length, then closes the connection;
  * 404 for anything missing;
  * --log FILE      one line per request: "GET /path range=<Range header|->";
  * --times         ... followed by " t=<seconds>" (time.monotonic() when the
                    request arrived), for tests that measure the gaps;
  * --gather N:SECS the first requests are held until N are open at the same
                    time (or SECS passed since one arrived), then each logs
                    "HELD /path with=K", K the number held together (N only
                    if N requests were open at once); no later request is
                    held.
"""
import argparse
import http.server
import os
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--log")
    parser.add_argument("--fail", action="append", default=[])
    parser.add_argument("--cut", action="append", default=[])
    parser.add_argument("--times", action="store_true")
    parser.add_argument("--gather", default="0:0")
    args = parser.parse_args()
    gather_n, gather_secs = args.gather.split(":")
    gather_n, gather_secs = int(gather_n), float(gather_secs)
    held = [0]  # requests held; none is let go before the gathering ends
    gathered = [gather_n == 0]
    gather = threading.Condition()

    fails = {}
    for spec in args.fail:
        path, count = spec.rsplit(":", 1)
        fails[path] = int(count)
    cuts = set(args.cut)
    lock = threading.Lock()
    root = os.path.realpath(args.root)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet on stderr
            pass

        def write_log(self, line):
            if args.log:
                with lock, open(args.log, "a") as f:
                    f.write(line + "\n")

        def record(self):
            line = "%s %s range=%s" % (
                self.command, self.path, self.headers.get("Range", "-"))
            if args.times:
                line += " t=%.6f" % time.monotonic()
            self.write_log(line)

        def hold(self):
            with gather:
                if gathered[0]:
                    return
                held[0] += 1
                gather.notify_all()
                gather.wait_for(lambda: held[0] >= gather_n or gathered[0],
                                gather_secs)
                together = held[0]
                gathered[0] = True  # met or timed out: no more holding
                gather.notify_all()
            self.write_log("HELD %s with=%d" % (self.path, together))

        def plain(self, code, text):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            self.record()
            self.hold()
            path = self.path.split("?", 1)[0]
            with lock:
                if fails.get(path, 0) > 0:
                    fails[path] -= 1
                    self.plain(500, "injected failure\n")
                    return
                cut = path in cuts
                cuts.discard(path)
            full = os.path.realpath(os.path.join(root, path.lstrip("/")))
            if not full.startswith(root + os.sep) or not os.path.isfile(full):
                self.plain(404, "not found: %s\n" % path)
                return
            with open(full, "rb") as f:
                data = f.read()
            start, end, code = 0, len(data), 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                first, _, last = rng[len("bytes="):].partition("-")
                start = int(first or 0)
                if last:
                    end = min(end, int(last) + 1)
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code = 206
            body = data[start:end]
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if code == 206:
                self.send_header("Content-Range",
                                 "bytes %d-%d/%d" % (start, end - 1, len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if cut:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
