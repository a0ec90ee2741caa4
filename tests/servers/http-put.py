#!/usr/bin/env python3
"""The HTTP PUT server of the upload tests (tests/lib/servers.sh), on 127.0.0.1 only.

    http-put.py DIR PORT PORT_FILE [USER:PASSWORD_FILE]

PUT /PATH stores the body at DIR/PATH (Content-Length or chunked), written to a temporary name
and renamed when whole, so that a cut upload never shows; answers 201. A Content-MD5 header
(base64) or a Digest header (sha-256=base64) is checked against the body: 400 when they differ.
With a credentials file (one line USER:PASSWORD), requests without that basic authentication get
401. GET and everything else get 405: the server takes uploads only. Each request is logged on
stderr with its method, path, status and size (never its headers).
"""
import base64
import hashlib
import hmac
import os
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.realpath(sys.argv[1])
AUTH = None
if len(sys.argv) > 4:
    with open(sys.argv[4], "rb") as f:
        AUTH = b"Basic " + base64.b64encode(f.read().strip())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("http-put: " + (fmt % args) + "\n")

    def reply(self, code, text=""):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        if code == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="cores"')
        self.end_headers()
        self.wfile.write(body)

    def body_chunks(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    data = self.rfile.read(min(left, 1 << 20))
                    if not data:
                        raise ConnectionError("body cut short")
                    left -= len(data)
                    yield data
                self.rfile.readline(1024)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                data = self.rfile.read(min(left, 1 << 20))
                if not data:
                    raise ConnectionError("body cut short")
                left -= len(data)
                yield data

    def do_PUT(self):
        if AUTH is not None and not hmac.compare_digest(
                self.headers.get("Authorization", "").encode(), AUTH):
            self.close_connection = True
            self.reply(401, "authentication required\n")
            return
        path = os.path.realpath(os.path.join(ROOT, self.path.split("?")[0].lstrip("/")))
        if not path.startswith(ROOT + "/"):
            self.reply(400, "bad path\n")
            return
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        md5, sha = hashlib.md5(), hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                for data in self.body_chunks():
                    md5.update(data)
                    sha.update(data)
                    size += len(data)
                    out.write(data)
            want_md5 = self.headers.get("Content-MD5")
            if want_md5 and want_md5.strip() != base64.b64encode(md5.digest()).decode():
                self.reply(400, "Content-MD5 does not match the body\n")
                return
            for d in self.headers.get("Digest", "").split(","):
                alg, _, val = d.strip().partition("=")
                if alg.lower() == "sha-256" and val != base64.b64encode(sha.digest()).decode():
                    self.reply(400, "Digest does not match the body\n")
                    return
            os.rename(tmp, path)
            tmp = None
        except (ConnectionError, ValueError) as e:
            self.close_connection = True
            self.log_message("%s: %s", self.path, e)
            return
        finally:
            if tmp:
                os.unlink(tmp)
        self.log_message("stored %s (%d bytes)", self.path, size)
        self.reply(201, "stored\n")

    def refuse(self):
        self.reply(405, "this server takes uploads (PUT) only\n")

    do_GET = do_HEAD = do_POST = do_DELETE = refuse


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
    with open(sys.argv[3] + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    server.serve_forever()


if __name__ == "__main__":
    main()
