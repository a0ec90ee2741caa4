#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Loopback servers for test-upload (the upload engine's unit test).

upload-server.py MODE DIR [OPTIONS]: listens on 127.0.0.1 at a free port, prints the port on its
first line of stdout, and serves until killed (or for --lifetime seconds, 120 by default).

  http      (A PUT to a path with /echo/ and Basic credentials is refused with them repeated in
            the reply, as a careless server would.)
            PUT stores the body (Content-Length or chunked) under DIR/PATH, written to a temporary
            file and renamed only when complete; a Content-MD5 or Digest: sha-256= that does not
            match the body is refused with 400 and nothing stored.
  s3        A small S3 that checks what a real one checks and s3rver does not: the SigV4
            signature (key "TESTKEY", secret given with --secret), x-amz-content-sha256 against
            the body, Content-MD5 and x-amz-checksum-sha256. PUT object, multipart create / part /
            complete / abort. Objects appear under DIR/BUCKET/KEY only when complete; pending
            multipart parts live in DIR/.uploads/ID/. --fail-part=N answers 500 to part N;
            --fail-part-once=N only the first time part N comes.
  stall     Accepts connections and never reads from them nor answers.
  hostile   Reads each request whole, then answers as --do= says: trickle (a 200 whose body comes
            a byte every 0.2 s), huge (a 200 with an 8 MiB body), echo / echo-decoded (a 403 whose
            XML Message repeats the Authorization header, or the user:password in it, after
            --pad= x's), s3-late-error (a multipart S3 whose completion is a 200 with an <Error>
            after 20000 spaces).
Every request is logged to DIR/requests.log as "METHOD PATH STATUS SUMS" lines, SUMS naming the
checksum headers it carried (Content-MD5, Digest, x-amz-checksum-sha256) or "-".
"""
import base64
import hashlib
import hmac
import http.server
import os
import re
import socket
import sys
import ssl
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree

ACCESS_KEY = "TESTKEY"


def parse_args():
    mode, root = sys.argv[1], sys.argv[2]
    opts = {"secret": "TESTSECRET", "fail_part": 0, "lifetime": 120}
    for a in sys.argv[3:]:
        k, _, v = a.lstrip("-").partition("=")
        opts[k.replace("-", "_")] = v
    return mode, root, opts


MODE, ROOT, OPTS = parse_args()
FAILED = set()  # the parts answered 500 (--fail-part-once: not again)


def log(line):
    with open(os.path.join(ROOT, "requests.log"), "a") as f:
        f.write(line + "\n")


def store(path, data):
    full = os.path.join(ROOT, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    tmp = full + ".tmp-" + uuid.uuid4().hex
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, full)


def sigv4_ok(h, method, raw_path, body_hash):
    auth = h.headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                 r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", auth)
    if not m or m.group(1) != ACCESS_KEY:
        return False
    date, region, signed, sig = m.group(2), m.group(3), m.group(4), m.group(5)
    path, _, query = raw_path.partition("?")
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    cquery = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                      for k, v in pairs)
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names or "x-amz-content-sha256" not in names:
        return False
    cheaders = "".join(n + ":" + " ".join(h.headers.get(n, "").split()) + "\n" for n in names)
    creq = "\n".join([method, path, cquery, cheaders, signed, body_hash])
    amzdate = h.headers.get("x-amz-date", "")
    scope = date + "/" + region + "/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + OPTS["secret"]).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, sts.encode(), hashlib.sha256).hexdigest(), sig)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def answer(self, status, text=b""):
        sums = [n for n in ("Content-MD5", "Digest", "x-amz-checksum-sha256") if self.headers.get(n)]
        log("%s %s %d %s" % (self.command, self.path, status, ",".join(sums) or "-"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        if self.etag:
            self.send_header("ETag", self.etag)
        self.end_headers()
        self.wfile.write(text)

    def sums_ok(self, data):
        md5 = self.headers.get("Content-MD5")
        if md5 and base64.b64decode(md5) != hashlib.md5(data).digest():
            return False
        digest = self.headers.get("Digest", "")
        if digest.startswith("sha-256=") and base64.b64decode(digest[8:]) != hashlib.sha256(data).digest():
            return False
        c = self.headers.get("x-amz-checksum-sha256")
        return not c or base64.b64decode(c) == hashlib.sha256(data).digest()

    def handle_any(self):
        self.etag = None
        data = self.body() if self.command in ("PUT", "POST") else b""
        if not self.sums_ok(data):
            return self.answer(400, b"<Error><Code>BadDigest</Code></Error>")
        if MODE == "http":
            auth = self.headers.get("Authorization", "")
            if "/echo/" in self.path and auth.startswith("Basic "):
                # A server that repeats the credentials it was sent in its refusal.
                said = base64.b64decode(auth[6:]).decode(errors="replace")
                return self.answer(403, ("<Error><Code>Denied</Code><Message>you sent %s</Message></Error>"
                                         % said).encode())
            if self.command != "PUT":
                return self.answer(405)
            store(urllib.parse.unquote(self.path), data)
            return self.answer(201)
        if self.headers.get("x-amz-content-sha256") != hashlib.sha256(data).hexdigest():
            return self.answer(400, b"<Error><Code>XAmzContentSHA256Mismatch</Code></Error>")
        if not sigv4_ok(self, self.command, self.path, hashlib.sha256(data).hexdigest()):
            return self.answer(403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error>")
        self.s3(data)

    def s3(self, data):
        path, _, query = self.path.partition("?")
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        uploads = os.path.join(ROOT, ".uploads")
        if self.command == "POST" and "uploads" in q:
            uid = uuid.uuid4().hex + "+/="
            os.makedirs(os.path.join(uploads, uid.replace("/", "_")))
            return self.answer(200, ("<InitiateMultipartUploadResult><UploadId>%s</UploadId>"
                                     "</InitiateMultipartUploadResult>" % uid).encode())
        if "uploadId" in q:
            udir = os.path.join(uploads, q["uploadId"].replace("/", "_"))
            if not os.path.isdir(udir):
                return self.answer(404, b"<Error><Code>NoSuchUpload</Code></Error>")
            if self.command == "PUT":
                n = int(q["partNumber"])
                once = n == int(OPTS.get("fail_part_once", 0)) and n not in FAILED
                if n == int(OPTS["fail_part"]) or once:
                    FAILED.add(n)
                    return self.answer(500, b"<Error><Code>InternalError</Code></Error>")
                with open(os.path.join(udir, "%05d" % n), "wb") as f:
                    f.write(data)
                self.etag = OPTS.get("etag") or '"%s"' % hashlib.md5(data).hexdigest()
                with open(os.path.join(udir, "%05d.etag" % n), "w") as f:
                    f.write(self.etag)
                return self.answer(200)
            if self.command == "DELETE":
                for f in os.listdir(udir):
                    os.unlink(os.path.join(udir, f))
                os.rmdir(udir)
                return self.answer(204)
            if self.command == "POST":
                try:  # well-formed, each part's ETag as it was given
                    listed = [(int(p.findtext("PartNumber")), p.findtext("ETag"))
                              for p in xml.etree.ElementTree.fromstring(data).iter("Part")]
                except (xml.etree.ElementTree.ParseError, TypeError, ValueError):
                    return self.answer(400, b"<Error><Code>MalformedXML</Code></Error>")
                for n, etag in listed:
                    with open(os.path.join(udir, "%05d.etag" % n)) as f:
                        if f.read() != etag:
                            return self.answer(400, b"<Error><Code>InvalidPart</Code></Error>")
                parts = re.findall(rb"<PartNumber>(\d+)</PartNumber>", data)
                whole = b"".join(open(os.path.join(udir, "%05d" % int(n)), "rb").read() for n in parts)
                store(path, whole)
                for f in os.listdir(udir):
                    os.unlink(os.path.join(udir, f))
                os.rmdir(udir)
                return self.answer(200, b"<CompleteMultipartUploadResult></CompleteMultipartUploadResult>")
        if self.command == "PUT":
            store(path, data)
            self.etag = '"%s"' % hashlib.md5(data).hexdigest()
            return self.answer(200)
        return self.answer(400)

    do_PUT = do_POST = do_DELETE = do_GET = handle_any


def listen_announced():
    """A listening socket on 127.0.0.1, its port written as the first line of stdout."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    sys.stdout.write("%d\n" % s.getsockname()[1])
    sys.stdout.flush()
    return s


def stall_server():
    s = listen_announced()
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)


def hostile_reply(c, head, body):
    """What --do= says a hostile server answers to one request (its head and body)."""
    do, pad = OPTS.get("do", ""), "x" * int(OPTS.get("pad", 0))
    auth = re.search(rb"(?im)^authorization: *([^\r\n]*)", head)
    auth = auth.group(1).decode(errors="replace") if auth else ""
    if do == "trickle":  # a reply that moves, a byte at a time, and never ends in time
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100000):
            c.sendall(b" ")
            time.sleep(0.2)
    elif do == "huge":  # a reply far longer than any answer to an upload
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (8 << 20) + b"x" * (8 << 20))
    elif do in ("echo", "echo-decoded"):  # a refusal that repeats what the client sent
        said = auth if do == "echo" else base64.b64decode(auth.split(" ")[-1]).decode(errors="replace")
        msg = ("<Error><Code>C</Code><Message>%s%s</Message></Error>" % (pad, said)).encode()
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n" % len(msg) + msg)
    elif do == "s3-late-error":  # S3's 200 to CompleteMultipartUpload, an <Error> after 20000 spaces
        first = head.split(b"\r\n", 1)[0]
        if b"uploads=" in first:
            msg = b"<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"
        elif first.startswith(b"PUT"):
            msg = b""
        else:
            msg = b" " * 20000 + b"<Error><Code>InternalError</Code></Error>"
        c.sendall(b'HTTP/1.1 200 OK\r\nETag: "e"\r\nContent-Length: %d\r\n\r\n' % len(msg) + msg)


def hostile_conn(c):
    with c:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"(?im)^content-length: *(\d+)", head)
            need = int(m.group(1)) if m else 0
            while len(buf) < need:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            body, buf = buf[:need], buf[need:]
            log("%s %d" % (head.split(b"\r\n", 1)[0].decode(errors="replace"), len(body)))
            hostile_reply(c, head, body)


def hostile_server():
    s = listen_announced()
    while True:
        c, _ = s.accept()
        threading.Thread(target=hostile_conn, args=(c,), daemon=True).start()


def main():
    threading.Timer(float(OPTS["lifetime"]), lambda: os._exit(0)).start()
    if MODE == "stall":
        return stall_server()
    if MODE == "hostile":
        return hostile_server()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if "tls" in OPTS:  # --tls=DIR: HTTPS with DIR/cert.pem and DIR/key.pem
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(OPTS["tls"], "cert.pem"), os.path.join(OPTS["tls"], "key.pem"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    sys.stdout.write("%d\n" % srv.server_address[1])  # one write: the line whole
    sys.stdout.flush()
    srv.serve_forever()


main()
