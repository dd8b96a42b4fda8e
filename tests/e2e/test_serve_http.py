"""`intentd serve` at the HTTP level: garbage bytes, half-open and slow
connections and oversize chunked bodies leave it healthy and ticking; TLS
with a certificate the test makes; a bad listen address or TLS files are
configuration errors (exit 2); SIGTERM ends it gracefully with complete
telemetry."""
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
R = Results()
ADMIN = "admin-token-0123456789abcdef"
ENV = {"INTENTD_ADMIN_TOKEN": ADMIN}


def tick(srv):
    st, _, body = srv.request("GET", "/api/v1/state", token=ADMIN)
    return body.get("tick", -1) if st == 200 and isinstance(body, dict) else -1


def healthy(srv):
    st, _, body = srv.request("GET", "/healthz")
    return st == 200 and body == {"status": "ok"}


def hostile_clients(srv):
    rnd = random.Random(7)
    before = tick(srv)
    # Random garbage, some of it binary, on many connections.
    for i in range(200):
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 2048))))
        s.close()
    # Half-open: connect and say nothing, or half a request line, and hold.
    held = []
    for i in range(100):
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        if i % 2:
            s.sendall(b"POST /api/v1/intents HTTP/1.1\r\nHost: x\r\nContent-Len")
        held.append(s)
    # A header that never ends, and a body that claims more than it sends.
    s = socket.create_connection((srv.host, srv.port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Long: " + b"a" * 100000)
    held.append(s)
    s = socket.create_connection((srv.host, srv.port), timeout=5)
    s.sendall(b"POST /api/v1/intents HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
              b"Authorization: Bearer " + ADMIN.encode() + b"\r\n\r\n{")
    held.append(s)
    R.check(healthy(srv), "healthy while 100 connections are held half-open")
    R.check(srv.wait_for(lambda: tick(srv) > before + 5, timeout=10),
            "the loop keeps ticking through garbage and half-open connections")
    for s in held:
        s.close()
    # An oversize body without Content-Length (chunked) is refused with 413.
    c = srv.conn()
    c.putrequest("POST", "/api/v1/intents")
    c.putheader("Authorization", "Bearer " + ADMIN)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b"x" * 8192
    try:
        for _ in range(12):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        status, body = r.status, r.read()
    except (BrokenPipeError, ConnectionResetError):
        status, body = 413, b"{}"  # closed after answering early
    R.check(status == 413, f"chunked body over the limit is 413 (got {status})")
    c.close()
    st, _, body = srv.request("POST", "/api/v1/intents", body="x" * 70000, token=ADMIN)
    R.check(st == 413 and body["error"]["code"] == "payload_too_large",
            "a declared oversize body is 413 with a JSON error")
    R.check(healthy(srv), "still healthy afterwards")
    st, hdrs, _ = srv.request("HEAD", "/healthz")
    R.check(st == 200, "HEAD /healthz answers 200 (load-balancer probes)")
    st, hdrs, body = srv.request("DELETE", "/api/v1/intents", token=ADMIN)
    R.check(st == 405 and "POST" in hdrs.get("Allow", "") and "GET" in hdrs.get("Allow", ""),
            f"405 names the allowed methods ({hdrs.get('Allow')})")
    st, hdrs, body = srv.request("GET", "/api/v1/state")
    R.check(st == 401 and hdrs.get("Cache-Control") == "no-store"
            and "Bearer" in hdrs.get("WWW-Authenticate", ""),
            "a refusal is not cached and says how to authenticate")


def idle_timeout(binary):
    srv = Server(binary, ["--timeout", "1", "--rate", "50"], env=ENV)
    try:
        s = socket.create_connection((srv.host, srv.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes
        t0 = time.monotonic()
        try:
            data = s.recv(100)
        except socket.timeout:
            data = None
        R.check(data == b"" and time.monotonic() - t0 < 5,
                "an idle half-open connection is closed after --timeout")
        s.close()
    finally:
        srv.stop()


def tls(binary, workdir):
    key, cert = os.path.join(workdir, "key.pem"), os.path.join(workdir, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    srv = Server(binary, ["--tls-cert", cert, "--tls-key", key, "--rate", "20"], env=ENV)
    try:
        R.check(srv.url.startswith("https://"), f"serves HTTPS ({srv.url})")
        ctx = ssl.create_default_context(cafile=cert)
        st, _, body = srv.request("GET", "/api/v1/state", token=ADMIN, context=ctx)
        R.check(st == 200 and "tick" in body, "a verified TLS client reads the state")
        try:
            srv.request("GET", "/healthz", context=ssl.create_default_context())
            R.check(False, "an unverified certificate is rejected by a strict client")
        except ssl.SSLError:
            R.check(True, "an unverified certificate is rejected by a strict client")
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")  # plain HTTP to a TLS port
        s.close()
        st, _, _ = srv.request("GET", "/healthz", context=ctx)
        R.check(st == 200, "plain HTTP on the TLS port leaves it healthy")
    finally:
        srv.stop()
    r = subprocess.run([binary, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert],
                       capture_output=True, text=True, timeout=20, env=dict(os.environ, **ENV))
    R.check(r.returncode == 2 and "tls-key" in r.stderr,
            "a certificate without a key is a configuration error (exit 2)")
    r = subprocess.run([binary, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert,
                        "--tls-key", "/nonexistent.pem"],
                       capture_output=True, text=True, timeout=20, env=dict(os.environ, **ENV))
    R.check(r.returncode == 2 and "nonexistent" in r.stderr, "a missing key file is exit 2")


def bad_listen(binary):
    for addr in ["nonsense", "127.0.0.1:99999", "300.1.1.1:80"]:
        r = subprocess.run([binary, "serve", "--listen", addr], capture_output=True, text=True,
                           timeout=20, env=dict(os.environ, **ENV))
        R.check(r.returncode == 2 and "--listen" in r.stderr,
                f"--listen {addr} is a precise configuration error")


def realtime(binary):
    srv = Server(binary, ["--realtime", "--rate", "200"], env=ENV)
    try:
        R.check(srv.wait_for(lambda: tick(srv) > 20, timeout=10),
                "--realtime serves and ticks (or says why it cannot be real-time)")
        if os.geteuid() != 0:
            R.check("cannot run the tick thread real-time" in srv.stderr(),
                    "without privilege --realtime says so")
    finally:
        srv.stop()


def graceful(binary, workdir):
    tel = os.path.join(workdir, "graceful.jsonl")
    srv = Server(binary, ["--rate", "200", "--telemetry", tel], env=ENV)
    srv.wait_for(lambda: tick(srv) > 50, timeout=10)
    code = srv.stop()
    R.check(code == 0, f"SIGTERM ends serve with exit 0 (got {code})")
    lines = open(tel).read().splitlines()
    ok = bool(lines)
    last_seq = 0
    for ln in lines:
        ev = json.loads(ln)
        ok &= ev["seq"] == last_seq + 1
        last_seq = ev["seq"]
    R.check(ok, f"telemetry complete and gap-free after shutdown ({len(lines)} events)")
    R.check(json.loads(lines[-1])["event"] == "engine.tick",
            "the last event is a whole tick's frame")


def main():
    workdir = tempfile.mkdtemp(prefix="intentd-http-")
    srv = Server(BIN, ["--rate", "100", "--max-body", "65536"], env=ENV)
    try:
        R.check(healthy(srv), "healthz")
        hostile_clients(srv)
    finally:
        srv.stop()
    idle_timeout(BIN)
    tls(BIN, workdir)
    bad_listen(BIN)
    realtime(BIN)
    graceful(BIN, workdir)
    R.finish()


if __name__ == "__main__":
    main()
