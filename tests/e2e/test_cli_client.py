#!/usr/bin/env python3
"""test_cli_client.py: the client subcommands (submit, intents, explain,
cancel, console) against a live `intentd serve`: readable and --json output,
token discovery from the data directory and the environment, roles, and the
exit statuses (0 ok, 1 cannot connect, 2 usage or a 4xx from the server).

Usage: python3 test_cli_client.py /path/to/intentd
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.realpath(sys.argv[1]) if len(sys.argv) > 1 else "intentd"
TYPES = ("orbit_correction", "battery_recovery", "thermal_recovery")
TERMINAL = ("completed", "failed", "cancelled", "expired", "denied")
OP_TOKEN = "operator-e2e-secret-0123456789"
PASSES = 0
FAILS = 0


def check(cond, what, detail=""):
    global PASSES, FAILS
    if cond:
        PASSES += 1
        print("ok   - " + what)
    else:
        FAILS += 1
        print("FAIL - " + what)
        for line in str(detail).splitlines()[:20]:
            print("    " + line)
    return cond


class Server:
    """An `intentd serve` child with its stderr drained by a thread."""

    def __init__(self, work, data, env, extra=()):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [BIN, "serve", "--scenario", "spacecraft", "--listen", "127.0.0.1:0",
             "--data", data, "--rate", "100", "--quiet"] + list(extra),
            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=15):
        """The first match of pattern in stderr, waiting up to timeout s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = re.search(pattern, line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run(args, env, timeout=40):
    p = subprocess.run([BIN] + args, env=env, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def wait_for(fn, timeout=15, step=0.05):
    """Call fn until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def main():
    work = tempfile.mkdtemp(prefix="intentd-e2e-client.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
    xdg = os.path.join(work, "xdg")
    os.mkdir(xdg, 0o700)
    env["XDG_RUNTIME_DIR"] = xdg
    data = os.path.join(work, "data")
    data2 = os.path.join(work, "data2")
    servers = []
    try:
        # ------------------------------------------------ admin server
        srv = Server(work, data, env)
        servers.append(srv)
        m = srv.wait_line(r"listening on (http://127\.0\.0\.1:\d+)")
        if not check(m is not None, "server 1 starts", "\n".join(srv.lines)):
            return
        url = m.group(1)
        m = srv.wait_line(r"admin token in (\S+)")
        tok_path = os.path.join(data, "admin.token")
        check(m is not None and os.path.samefile(os.path.join(work, m.group(1)), tok_path),
              "server 1 generates its admin token in the data dir", "\n".join(srv.lines))
        check(os.stat(tok_path).st_mode & 0o777 == 0o600, "admin.token is mode 0600")
        admin = open(tok_path).read().strip()
        c = ["--server", url, "--data", data]

        for cmd in ("submit", "intents", "explain", "cancel", "console"):
            rc, out, err = run([cmd, "--help"], env)
            check(rc == 0 and out.startswith("usage: intentd " + cmd) and "--server" in out
                  and "--json" in out, cmd + " --help", out + err)

        # ------------------------------------------------------- submit
        rc, out, err = run(["submit", "orbit_correction", "--goal", "position=3.0,0.1"] + c,
                           env)
        m = re.fullmatch(r"(i-\d{6}) queued \(applies at tick (\d+)\)\n", out)
        check(rc == 0 and m, "submit prints 'ID queued (applies at tick N)'", out + err)
        first = m.group(1) if m else None

        rc, out, err = run(["submit", "battery_recovery", "--priority", "2", "--deadline",
                            "5000", "--key", "e2e-key-1", "--json"] + c, env)
        j = as_json(out)
        check(rc == 0 and j and j.get("status") == "queued" and
              isinstance(j.get("received_tick"), int) and re.fullmatch(r"i-\d{6}", j["id"]),
              "submit --json prints the server's answer", out + err)
        keyed = j["id"] if j else None
        rc, out, err = run(["submit", "battery_recovery", "--priority", "2", "--deadline",
                            "5000", "--key", "e2e-key-1", "--json"] + c, env)
        j = as_json(out)
        check(rc == 0 and j and j.get("duplicate") is True and j.get("id") == keyed,
              "resubmitting an idempotency key returns the same intent", out + err)
        rc, out, err = run(["submit", "battery_recovery", "--priority", "2", "--deadline",
                            "5000", "--key", "e2e-key-1"] + c, env)
        check(rc == 0 and out.startswith(keyed + " ") and "duplicate" in out,
              "a duplicate is said to be one", out + err)
        rc, out, err = run(["submit", "battery_recovery", "--priority", "7", "--key",
                            "e2e-key-1"] + c, env)
        check(rc == 2 and "409 idempotency_conflict" in err,
              "the same key with another body: exit 2 with 409", out + err)

        rc, out, err = run(["submit", "foo"] + c, env)
        m = re.search(r"intentd submit: 400 unknown_intent_type: unknown intent type 'foo' "
                      r"\(known: ([^)]*)\)", err)
        check(rc == 2 and m and all(t in m.group(1) for t in TYPES),
              "unknown type: exit 2 and the known types", err)
        rc, out, err = run(["submit", "foo", "--json"] + c, env)
        j = as_json(out)
        check(rc == 2 and j and j["error"]["code"] == "unknown_intent_type",
              "unknown type --json: the error body on stdout", out + err)
        rc, out, err = run(["submit", "orbit_correction", "--param", "bogus=1"] + c, env)
        check(rc == 2 and "400" in err, "an undeclared parameter: exit 2 with 400", err)
        rc, out, err = run(["submit", "orbit_correction", "--goal", "position"] + c, env)
        check(rc == 2 and "--goal" in err, "a malformed --goal: exit 2", err)
        rc, out, err = run(["submit"] + c, env)
        check(rc == 2 and "TYPE" in err, "submit without a type: exit 2", err)
        rc, out, err = run(["submit", "thermal_recovery", "-q"] + c, env)
        check(rc == 0 and re.fullmatch(r"i-\d{6}\n", out), "submit -q prints only the id",
              out + err)

        # ------------------------------------------------------ intents
        rc, out, err = run(["intents"] + c, env)
        lines = out.splitlines()
        check(rc == 0 and lines and lines[0].split() ==
              ["ID", "TYPE", "STATUS", "SOURCE", "CREATED", "BLOCKED", "EXEC", "VERDICT/RULE",
               "ACTOR"], "intents prints the table header", out + err)
        check(any(l.startswith(first + " ") for l in lines[1:]), "intents lists the intent",
              out)
        col = lines[0].find("STATUS") if lines else -1
        check(col > 0 and all(l[col - 2:col] == "  " and l[col] != " " for l in lines),
              "intents aligns its columns", out)
        rc, out, err = run(["intents", "--json"] + c, env)
        j = as_json(out)
        ids = [x["id"] for x in j["intents"]] if j else []
        check(rc == 0 and first in ids and keyed in ids and "next_after" in j,
              "intents --json is the server's list", out + err)
        rc, out, err = run(["intents", "--limit", "2"] + c, env)
        check(rc == 0 and len(out.splitlines()) == 3 and "--after" in err,
              "intents --limit 2: one page and a hint", out + err)
        rc, out, err = run(["intents", "--limit", "1", "--all", "-q"] + c, env)
        paged = out.split()
        check(rc == 0 and set(ids) <= set(paged) and len(paged) == len(set(paged)),
              "intents --all follows the pages", out + err)
        rc, out, err = run(["intents", "--limit", "1", "--all", "--json"] + c, env)
        j = as_json(out)
        check(rc == 0 and j and set(ids) <= {x["id"] for x in j["intents"]} and
              j["next_after"] is None, "intents --all --json joins the pages", out + err)
        rc, out, err = run(["intents", "--type", "orbit_correction", "--json"] + c, env)
        j = as_json(out)
        check(rc == 0 and j and j["intents"] and
              all(x["type"] == "orbit_correction" for x in j["intents"]),
              "intents --type filters", out + err)
        # --limit takes what the server takes (1..1000), refused before any request.
        for bad in ("0", "1001", "1000000", "x"):
            rc, out, err = run(["intents", "--limit", bad] + c, env)
            check(rc == 2 and not out and
                  err == f"intentd: --limit: expected a whole number in [1, 1000], got '{bad}'\n",
                  f"intents --limit {bad}: usage error, exit 2", out + err)
        rc, out, err = run(["intents", "--limit", "1000", "-q"] + c, env)
        check(rc == 0 and first in out.split(), "intents --limit 1000: accepted", out + err)
        rc, out, err = run(["intents", "--status", "bogus"] + c, env)
        check(rc == 2 and "400" in err, "intents --status bogus: exit 2 with 400", err)

        # ------------------------------------------------------ explain
        def completed():
            rc, out, _ = run(["explain", first, "--json"] + c, env)
            j = as_json(out)
            return j if rc == 0 and j and j.get("status") in TERMINAL else None
        j = wait_for(completed)
        check(j and isinstance(j.get("history"), list) and j["history"] and
              isinstance(j.get("explanation"), str), "explain --json: history, explanation",
              j)
        rc, out, err = run(["explain", first] + c, env)
        check(rc == 0 and out.startswith(first + "  orbit_correction  ") and
              "\nhistory:\n" in out and "FROM -> TO" in out and "received -> queued" in out
              and "last verdict: " in out and (j or {}).get("explanation", "?") in out,
              "explain tells the story", out + err)
        rc, out, err = run(["explain", "i-999999"] + c, env)
        check(rc == 2 and "404" in err, "explain of an unknown id: exit 2 with 404", err)
        # Without --server, --data reads the store itself, beside the
        # running server: the story comes from the audit chain.
        rc, out, err = run(["explain", first, "--data", data], env)
        check(rc == 0 and out.startswith(first + "  orbit_correction  completed") and
              "story (from the audit chain):" in out and
              "intent.received          received from ground, priority 0 by admin" in out and
              "intent.completed" in out and
              "ticks (" in out and "ms) after receipt" in out,
              "explain --data offline tells the story from the store", out + err)
        rc, out, err = run(["explain", first, "--story"] + c, env)
        check(rc == 0 and out.startswith(first + "  orbit_correction  completed") and
              "story (from the audit chain):" in out and "intent.completed" in out,
              "explain --story asks the server for the stored story", out + err)
        rc, out, err = run(["explain", "i-999999", "--story"] + c, env)
        check(rc == 2 and "404" in err, "explain --story of an unknown id: exit 2 with 404", err)
        rc, out, err = run(["intents", "--data", data, "--status", "completed", "-q"], env)
        check(rc == 0 and first in out.split(), "intents --data offline lists from the store",
              out + err)
        rc, out, err = run(["explain", "i-999999", "--data", data], env)
        check(rc == 2 and "no intent i-999999" in err, "offline explain of an unknown id: exit 2",
              err)

        # ---------------------------------------------- console, cancel
        rc, out, err = run(["console", "status"] + c, env)
        kv = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
        check(rc == 0 and kv.get("paused") == "false" and kv.get("tick", "").isdigit() and
              "intents.completed" in kv, "console status prints key: value lines", out + err)
        rc, out, err = run(["console", "step"] + c, env)
        check(rc == 2 and "409" in err, "console step while running: exit 2 with 409", err)
        rc, out, err = run(["console", "pause"] + c, env)
        check(rc == 0 and "command: pause" in out, "console pause", out + err)

        def status():
            rc, out, _ = run(["console", "status", "--json"] + c, env)
            return as_json(out) if rc == 0 else None
        st = wait_for(lambda: (lambda s: s if s and s["paused"] else None)(status()))
        check(st is not None, "the loop pauses", st)
        t0 = st["tick"] if st else 0
        moved = wait_for(lambda: (lambda s: s and s["tick"] != t0)(status()), 0.5)
        check(not moved, "a paused loop holds its tick")

        rc, out, err = run(["submit", "orbit_correction", "--goal", "position=9,0.1"] + c, env)
        m = re.match(r"(i-\d{6}) queued", out)
        victim = m.group(1) if m else "?"
        rc, out, err = run(["cancel", victim, "--reason", "e2e"] + c, env)
        check(rc == 0 and re.fullmatch(re.escape(victim) +
                                       r" cancel_requested \(applies at tick \d+\)\n", out),
              "cancel prints 'ID cancel_requested (applies at tick N)'", out + err)
        rc, out, err = run(["console", "step", "2"] + c, env)
        check(rc == 0 and "n: 2" in out, "console step 2", out + err)
        st = wait_for(lambda: (lambda s: s if s and s["tick"] == t0 + 2 else None)(status()))
        check(st is not None, "step 2 runs two ticks", st)
        rc, out, err = run(["explain", victim, "--json"] + c, env)
        j = as_json(out)
        check(rc == 0 and j and j["status"] == "cancelled", "the cancelled intent is cancelled",
              out + err)
        rc, out, err = run(["cancel", victim] + c, env)
        check(rc == 2 and "409 not_active" in err, "cancelling it again: exit 2 with 409", err)
        rc, out, err = run(["cancel", "i-999999"] + c, env)
        check(rc == 2 and "404" in err, "cancelling an unknown id: exit 2 with 404", err)
        rc, out, err = run(["console", "set", "battery", "20"] + c, env)
        check(rc == 0 and "field: battery" in out and "value: 20" in out, "console set",
              out + err)
        rc, out, err = run(["console", "set", "battery", "lots"] + c, env)
        check(rc == 2 and "400" in err, "console set with a bad value: exit 2 with 400", err)
        rc, out, err = run(["console", "snapshot", "--json"] + c, env)
        j = as_json(out)
        path = j.get("path", "") if j else ""
        check(rc == 0 and os.path.exists(path if os.path.isabs(path) else
                                         os.path.join(work, path)),
              "console snapshot writes a snapshot", out + err)
        rc, out, err = run(["console", "resume"] + c, env)
        check(rc == 0 and "command: resume" in out, "console resume", out + err)
        st = wait_for(lambda: (lambda s: s if s and not s["paused"] and s["tick"] > t0 + 2
                               else None)(status()))
        check(st is not None, "the loop runs again", st)
        rc, out, err = run(["console", "frobnicate"] + c, env)
        check(rc == 2 and "unknown_command" in err, "unknown console command: exit 2", err)
        rc, out, err = run(["console", "step", "0"] + c, env)
        check(rc == 2, "console step 0: exit 2", err)
        rc, out, err = run(["console"] + c, env)
        check(rc == 2, "console without a command: exit 2", err)

        # --------------------------------------- tokens and connections
        rc, out, err = run(["intents", "--server", url], env)
        check(rc == 2 and "401" in err and "INTENTD_TOKEN" in err,
              "no token found: exit 2 with 401 and a hint", err)
        rc, out, err = run(["intents", "--server", url, "--token", "wrong-token-0123456789"],
                           env)
        check(rc == 2 and "401" in err, "a wrong token: exit 2 with 401", err)
        e2 = dict(env, INTENTD_TOKEN=admin, INTENTD_URL=url)
        rc, out, err = run(["intents", "-q"], e2)
        check(rc == 0 and first in out.split(), "INTENTD_URL and INTENTD_TOKEN are used",
              out + err)
        os.mkdir(os.path.join(xdg, "intentd"), 0o700)
        shutil.copy(tok_path, os.path.join(xdg, "intentd", "admin.token"))
        rc, out, err = run(["intents", "-q", "--server", url], env)
        check(rc == 0 and first in out.split(),
              "the admin token is found in $XDG_RUNTIME_DIR/intentd", out + err)
        os.unlink(os.path.join(xdg, "intentd", "admin.token"))
        dead = "http://127.0.0.1:%d" % free_port()
        rc, out, err = run(["intents", "--server", dead, "--token", admin], env)
        check(rc == 1 and "cannot reach" in err, "an unreachable server: exit 1", err)
        rc, out, err = run(["submit", "orbit_correction", "--server", dead, "--token", admin],
                           env)
        check(rc == 1, "submit to an unreachable server: exit 1", err)
        rc, out, err = run(["intents", "--server", "ftp://x"], env)
        check(rc == 2, "a non-http server URL: exit 2", err)

        # ------------------------------------------- operator server
        env2 = dict(env, INTENTD_OPERATOR_TOKEN=OP_TOKEN)
        srv2 = Server(work, data2, env2)
        servers.append(srv2)
        m = srv2.wait_line(r"listening on (http://127\.0\.0\.1:\d+)")
        if not check(m is not None, "server 2 starts", "\n".join(srv2.lines)):
            return
        url2 = m.group(1)
        check(srv2.wait_line(r"admin token in", 0.5) is None and
              not os.path.exists(os.path.join(data2, "admin.token")),
              "with a configured token none is generated", "\n".join(srv2.lines))
        op = dict(env, INTENTD_TOKEN=OP_TOKEN)
        rc, out, err = run(["submit", "thermal_recovery", "--server", url2], op)
        check(rc == 0 and re.match(r"i-\d{6} queued", out), "an operator may submit",
              out + err)
        rc, out, err = run(["intents", "--server", url2, "--json"], op)
        j = as_json(out)
        check(rc == 0 and j and any(x.get("actor") == "operator" for x in j["intents"]),
              "an operator may list, and is the actor", out + err)
        rc, out, err = run(["console", "status", "--server", url2], op)
        check(rc == 2 and "403" in err, "an operator may not use the console: 403", err)
        rc, out, err = run(["intents", "--server", url2, "--data", data], op)
        check(rc == 0, "INTENTD_TOKEN wins over the data dir's token file", out + err)

        # --------------------------------------------------------- TLS
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        gen = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
             "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
             "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True) \
            if shutil.which("openssl") else None
        if not gen or gen.returncode:
            print("skip - TLS (no openssl to make a certificate)")
            return
        env3 = dict(env, INTENTD_VIEWER_TOKEN=OP_TOKEN)
        srv3 = Server(work, os.path.join(work, "data3"), env3,
                      ["--tls-cert", cert, "--tls-key", key])
        servers.append(srv3)
        m = srv3.wait_line(r"listening on (https://127\.0\.0\.1:\d+)")
        if not check(m is not None, "server 3 starts with TLS", "\n".join(srv3.lines)):
            return
        url3 = m.group(1)
        rc, out, err = run(["intents", "--server", url3], op)
        check(rc == 1 and "cannot reach" in err,
              "a self-signed certificate is refused by default: exit 1", err)
        rc, out, err = run(["intents", "--server", url3, "--insecure"], op)
        check(rc == 0, "--insecure skips verification", out + err)
        rc, out, err = run(["intents", "--server", url3, "--cacert", cert], op)
        check(rc == 0, "--cacert trusts the certificate", out + err)
        rc, out, err = run(["intents", "--server", url3, "--cacert",
                            os.path.join(work, "missing.pem")], op)
        check(rc == 2 and "missing.pem" in err, "--cacert of a missing file: exit 2", err)
    finally:
        for s in servers:
            s.stop()
        print("%d passed, %d failed" % (PASSES, FAILS))
        if FAILS == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("(kept %s)" % work)
    return


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with the counts still last
        import traceback
        traceback.print_exc()
        print("%d passed, %d failed" % (PASSES, FAILS + 1))
        sys.exit(1)
    sys.exit(1 if FAILS else 0)
