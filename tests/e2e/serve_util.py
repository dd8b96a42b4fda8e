"""Helpers for the end-to-end tests of `intentd serve`: start the real
binary on an ephemeral port, wait for it with deadlines, make requests,
stop it.  Standard library only."""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def role_tokens(tag):
    """The environment that gives a server one token per role, named after
    tag, and the three secrets: (env, operator, admin, viewer)."""
    env = {f"INTENTD_{r.upper()}_TOKEN": f"{r}-{tag}-0123456789abcdef"
           for r in ("operator", "admin", "viewer")}
    return (env, env["INTENTD_OPERATOR_TOKEN"], env["INTENTD_ADMIN_TOKEN"],
            env["INTENTD_VIEWER_TOKEN"])


def note(msg):
    """A comment line in the test's output (TAP style)."""
    print("# " + msg, flush=True)


class Results:
    """Counts checks and prints the closing 'N passed, M failed' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=None):
        """Count and print one check; on failure print detail (the output
        that explains it, last 2000 characters) indented below."""
        if cond:
            self.passed += 1
            print(f"ok   - {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL - {what}", flush=True)
            if detail is not None:
                print("    " + str(detail).strip().replace("\n", "\n    ")[-2000:], flush=True)
        return cond

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


class Server:
    """A running `intentd serve`, stopped by stop() (SIGTERM, then KILL)."""

    def __init__(self, binary, args=(), env=None, workdir=None, timeout=20, stdout_path=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="intentd-e2e-")
        self.stderr_path = os.path.join(self.workdir, "serve.stderr")
        e = dict(os.environ)
        e.update(env or {})
        cmd = [binary, "serve", "--listen", "127.0.0.1:0", "--quiet"] + list(args)
        out = open(stdout_path, "w") if stdout_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=e, stdout=out,
                                     stderr=open(self.stderr_path, "w"))
        self.url = None
        self.token_path = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.url is None:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited: " + open(self.stderr_path).read())
            for line in open(self.stderr_path):
                if line.startswith("intentd: listening on "):
                    self.url = line.split()[-1]
                if line.startswith("intentd: admin token in "):
                    self.token_path = line.split()[-1]
            time.sleep(0.02)
        if self.url is None:
            self.stop()
            raise RuntimeError("serve did not start: " + open(self.stderr_path).read())
        hostport = self.url.split("://")[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.tls = self.url.startswith("https")

    def stderr(self):
        return open(self.stderr_path).read()

    def conn(self, timeout=10, context=None):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, token=None, headers=None, context=None):
        """(status, headers dict, parsed JSON or text)"""
        c = self.conn(context=context)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return r.status, dict(r.getheaders()), parsed

    def wait_for(self, pred, timeout=10, every=0.05):
        """Poll pred() until it returns a true value or the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(every)
        return None

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status (KILL after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode
