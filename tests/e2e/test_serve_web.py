"""The dashboard served by `intentd serve`: GET / answers the page without a
token, with a strict Content-Security-Policy; every asset the page and its
modules reference answers with the right content type; ETags give 304s;
unknown assets are 404; no asset loads anything from another origin and
the page has no inline script or style; /api/v1/scenario and
/api/v1/whoami answer viewers and operators and refuse anonymous callers."""
import html.parser
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
R = Results()
ADMIN = "admin-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
ENV = {"INTENTD_ADMIN_TOKEN": ADMIN, "INTENTD_OPERATOR_TOKEN": OPERATOR,
       "INTENTD_VIEWER_TOKEN": VIEWER, "PUMP_TELEMETRY_KEY": "pump-key-0123456789abcdef"}
CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
         ".svg": "image/svg+xml", ".png": "image/png"}
PANELS = ["state", "policy", "safety", "trends", "intents", "log", "raw", "health"]


def hdr(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def get_raw(srv, path, headers=None, method="GET"):
    """(status, headers, body bytes), no token."""
    c = srv.conn()
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


class Refs(html.parser.HTMLParser):
    """Collects src/href references, inline scripts and styles, style and
    event-handler attributes."""

    def __init__(self):
        super().__init__()
        self.refs = []
        self.inline_scripts = 0
        self.styles = 0
        self.style_attrs = 0
        self.handlers = 0
        self.panels = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if a.get(k):
                self.refs.append((tag, a[k]))
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.styles += 1
        if "style" in a:
            self.style_attrs += 1
        self.handlers += sum(1 for k in a if k.startswith("on"))
        if "data-panel" in a:
            self.panels.append(a["data-panel"])


def content_type_ok(name, ctype):
    ext = os.path.splitext(name)[1]
    want = TYPES.get(ext)
    return want is not None and ctype is not None and ctype.split(";")[0].strip() == want


# Absolute or protocol-relative URLs where they would make a request:
# src/href attributes, CSS url() and @import, fetch(), import, and
# EventSource/WebSocket.  URLs elsewhere (license comments) do not count.
ABS = r"""(?:https?:)?//"""
FORBIDDEN = [
    re.compile(r"""\b(?:src|href|action|poster|srcset)\s*=\s*["'`]?\s*""" + ABS, re.I),
    re.compile(r"""url\(\s*["']?\s*""" + ABS, re.I),
    re.compile(r"""@import\s+(?:url\()?\s*["']?\s*""" + ABS, re.I),
    re.compile(r"""\bfetch\(\s*["'`]\s*""" + ABS),
    re.compile(r"""\bimport\s*\(\s*["'`]\s*""" + ABS),
    re.compile(r"""\bimport\b[^;'"`]*?\bfrom\s*["'`]\s*""" + ABS),
    re.compile(r"""\bimport\s*["'`]\s*""" + ABS),
    re.compile(r"""\bnew\s+(?:EventSource|WebSocket|Worker)\(\s*["'`]\s*""" + ABS),
]
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+|/[^"']+)["']""")


def resolve(base, ref):
    """A same-origin path for ref, relative to the path base."""
    if ref.startswith("/"):
        return ref
    d = base.rsplit("/", 1)[0]
    parts = [p for p in (d + "/" + ref).split("/")]
    out = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()
        elif p != ".":
            out.append(p)
    return "/".join(out)


def page_and_assets(srv):
    st, h, body = get_raw(srv, "/")
    R.check(st == 200, f"GET / without a token answers 200 (got {st})")
    R.check((hdr(h, "Content-Type") or "").startswith("text/html"),
            f"GET / is text/html ({hdr(h, 'Content-Type')})")
    R.check(hdr(h, "Content-Security-Policy") == CSP, "GET / carries the strict CSP")
    R.check(hdr(h, "X-Content-Type-Options") == "nosniff", "X-Content-Type-Options: nosniff")
    R.check(hdr(h, "Referrer-Policy") == "no-referrer", "Referrer-Policy: no-referrer")
    R.check(hdr(h, "Cache-Control") == "no-cache", "the page is revalidated (Cache-Control: no-cache)")
    etag = hdr(h, "ETag")
    R.check(bool(etag) and etag.startswith('"') and etag.endswith('"'), f"GET / has a strong ETag ({etag})")
    text = body.decode("utf-8")

    p = Refs()
    p.feed(text)
    R.check(p.inline_scripts == 0, "the page has no inline script")
    R.check(p.styles == 0 and p.style_attrs == 0, "the page has no inline style")
    R.check(p.handlers == 0, "the page has no inline event handlers")
    missing = [x for x in PANELS if x not in p.panels]
    R.check(not missing, f"every panel is marked with data-panel (missing: {missing})")

    # Every reference of the page, then every module its scripts import.
    todo = [resolve("/", ref) for _, ref in p.refs]
    R.check(any(r.endswith("chart.min.js") for r in todo), "the page loads the embedded Chart.js")
    R.check(any(r.endswith("app.js") for r in todo), "the page loads app.js")
    seen = {"/": text}
    bad_refs = [ref for _, ref in p.refs if re.match(ABS, ref)]
    R.check(not bad_refs, f"the page references no other origin ({bad_refs})")
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        st, ah, data = get_raw(srv, path)
        ctype = hdr(ah, "Content-Type")
        R.check(st == 200 and content_type_ok(path, ctype),
                f"{path} answers 200 {ctype} without a token (got {st})")
        R.check(hdr(ah, "Content-Security-Policy") == CSP and hdr(ah, "X-Content-Type-Options") == "nosniff",
                f"{path} carries the CSP and nosniff")
        seen[path] = data.decode("utf-8", "replace")
        if path.endswith(".js") and not path.endswith("chart.min.js"):
            for m in IMPORT.finditer(seen[path]):
                todo.append(resolve(path, m.group(1)))
    R.check(len(seen) >= 5, f"the page and its modules make {len(seen)} files")

    for path, data in seen.items():
        hits = [m.group(0) for rx in FORBIDDEN for m in rx.finditer(data)]
        R.check(not hits, f"{path}: no request to another origin ({hits[:3]})")
        if path.endswith(".js") and not path.endswith("chart.min.js"):
            R.check(not re.search(r"\blocalStorage\s*[.\[]|document\.cookie", data),
                    f"{path}: the token is never put in localStorage or a cookie")
            R.check(not re.search(r"""[?&](?:token|access_token)=""", data),
                    f"{path}: no token in a URL")
            R.check(not re.search(r"""\beval\(|new Function\(""", data), f"{path}: no eval")
    return etag, seen


def caching(srv, etag):
    st, h, body = get_raw(srv, "/", {"If-None-Match": etag})
    R.check(st == 304 and body == b"", f"If-None-Match with the ETag answers 304 with no body (got {st})")
    R.check(hdr(h, "ETag") == etag, "the 304 repeats the ETag")
    st, _, _ = get_raw(srv, "/", {"If-None-Match": f'"0000", W/{etag}'})
    R.check(st == 304, f"a weak match in a list of tags answers 304 (got {st})")
    st, _, _ = get_raw(srv, "/", {"If-None-Match": '"0123456789abcdef"'})
    R.check(st == 200, f"another ETag answers 200 (got {st})")
    st, h, _ = get_raw(srv, "/assets/app.js")
    atag = hdr(h, "ETag") or '"none"'

    R.check(atag and atag != etag, "each asset has its own ETag")
    st, _, body = get_raw(srv, "/assets/app.js", {"If-None-Match": atag})
    R.check(st == 304 and body == b"", f"an asset's ETag answers 304 (got {st})")
    st, h2, _ = get_raw(srv, "/assets/app.js")
    R.check(hdr(h2, "ETag") == atag, "the ETag is stable across requests")


def not_found(srv):
    for path in ("/assets/nope.js", "/assets/index.htm", "/assets/..%2Fscenarios", "/assets/"):
        st, h, body = get_raw(srv, path)
        R.check(st == 404, f"{path} answers 404 (got {st})")
    st, _, body = get_raw(srv, "/assets/nope.js")
    R.check(b'"not_found"' in body, "an unknown asset's 404 is the JSON error body")
    st, _, _ = get_raw(srv, "/index.html")
    R.check(st == 404, f"only / serves the page (/index.html: {st})")
    st, h, body = get_raw(srv, "/", method="HEAD")
    R.check(st == 200 and body == b"", f"HEAD / answers 200 without a body (got {st})")
    st, _, _ = get_raw(srv, "/", method="POST")
    R.check(st == 405, f"POST / answers 405 (got {st})")


def scenario_api(srv):
    st, h, body = srv.request("GET", "/api/v1/scenario")
    R.check(st == 401 and hdr(h, "WWW-Authenticate"), f"/api/v1/scenario without a token is 401 (got {st})")
    for tok, who in ((VIEWER, "viewer"), (OPERATOR, "operator")):
        st, h, sc = srv.request("GET", "/api/v1/scenario", token=tok)
        R.check(st == 200 and isinstance(sc, dict), f"/api/v1/scenario answers a {who} (got {st})")
    R.check(sc.get("name") == "spacecraft" and sc.get("rate_hz") == 20,
            f"scenario name and the rate in force ({sc.get('name')}, {sc.get('rate_hz')})")
    fields = {f["name"]: f for f in sc.get("fields", [])}
    R.check(list(fields) == ["position", "battery", "temperature"], f"fields in file order ({list(fields)})")
    b = fields.get("battery", {})
    R.check(b.get("unit") == "%" and b.get("min") == 0 and b.get("max") == 100
            and b.get("warn_low") == 25 and b.get("alarm_low") == 10 and "warn_high" not in b,
            f"battery's unit, range and thresholds ({b})")
    t = fields.get("temperature", {})
    R.check(t.get("warn_high") == 120 and t.get("alarm_high") == 140 and t.get("type") == "number",
            f"temperature's thresholds ({t})")
    R.check(sc.get("modes") == ["NOMINAL", "LOW_POWER", "SAFE"] and sc.get("initial_mode") == "NOMINAL",
            f"modes ({sc.get('modes')})")
    R.check(sc.get("domains") == ["battery", "thermal", "position"], f"domains ({sc.get('domains')})")
    types = {x["name"]: x for x in sc.get("intent_types", [])}
    R.check(list(types) == ["orbit_correction", "battery_recovery", "thermal_recovery"],
            f"intent types ({list(types)})")
    oc = types.get("orbit_correction", {})
    R.check(oc.get("goal") == "required" and oc.get("goal_metrics") == ["position", "battery", "temperature"]
            and oc.get("params") == [] and oc.get("recovers") is None
            and oc.get("domains") == ["battery", "thermal", "position"]
            and oc.get("flags") == ["energy_intensive"],
            f"orbit_correction: goal required, metrics, domains, flags ({oc})")
    br = types.get("battery_recovery", {})
    R.check(br.get("goal") == "none" and br.get("goal_metrics") == [] and br.get("recovers") == "battery",
            f"battery_recovery takes no goal and recovers battery ({br})")
    R.check([r["id"] for r in sc.get("safety", [])][:2] == ["battery_depleted", "temperature_max_exceeded"],
            "the safety rules, in order")
    R.check(sc.get("critical") == [{"domain": "battery", "recovery": "battery_recovery"},
                                   {"domain": "thermal", "recovery": "thermal_recovery"}],
            f"critical domains ({sc.get('critical')})")
    R.check(sc.get("sources") == ["ground", "playbook", "schedule"], "the sources a submission may name")
    st, _, _ = srv.request("POST", "/api/v1/scenario", body={}, token=ADMIN)
    R.check(st == 405, f"POST /api/v1/scenario is 405 (got {st})")


def whoami(srv):
    st, h, body = srv.request("GET", "/api/v1/whoami")
    R.check(st == 401 and hdr(h, "WWW-Authenticate") and body["error"]["code"] == "unauthorized",
            f"/api/v1/whoami without a token is 401 (got {st})")
    st, _, _ = srv.request("GET", "/api/v1/whoami", token="not-a-token-0123456789")
    R.check(st == 401, f"/api/v1/whoami with an unknown token is 401 (got {st})")
    for tok, name, role in ((VIEWER, "viewer", "viewer"), (OPERATOR, "operator", "operator"),
                            (ADMIN, "admin", "admin")):
        st, _, body = srv.request("GET", "/api/v1/whoami", token=tok)
        R.check(st == 200 and body == {"name": name, "role": role},
                f"whoami for the {role} token ({st} {body})")


def params_scenario():
    """Parameter definitions, from a scenario that has some."""
    srv = Server(BIN, ["--config", os.path.join(HERE, "fixtures", "pump.yaml"), "--telemetry", "off"],
                 env=ENV)
    try:
        st, _, sc = srv.request("GET", "/api/v1/scenario", token=VIEWER)
        fill = {t["name"]: t for t in sc.get("intent_types", [])}.get("fill", {})
        R.check(fill.get("params") == [
            {"name": "rate", "type": "number", "required": True},
            {"name": "operator", "type": "string", "required": True},
            {"name": "ticket", "type": "string", "required": False, "default": "none"}],
            f"parameters: name, type, required, default ({fill.get('params')})")
        R.check(fill.get("goal") == "required" and fill.get("goal_metrics") == ["level"],
                "the goal rule and its metrics")
        lv = sc.get("fields", [{}])[0]
        R.check(lv.get("name") == "level" and lv.get("initial") == 50 and lv.get("unit") == "%",
                f"a field's initial value and unit ({lv})")
        R.check(sc.get("rate_hz") == 10, f"the scenario's own rate ({sc.get('rate_hz')})")
    finally:
        R.check(srv.stop() == 0, "the pump server stops cleanly")


def metrics(srv):
    st, _, text = srv.request("GET", "/metrics", token=VIEWER)
    R.check(st == 200 and 'intentd_http_requests_total{route="web_index",code="200"}' in text
            and 'intentd_http_requests_total{route="web_asset",code="304"}' in text,
            "the page's requests are counted by route")


def main():
    srv = Server(BIN, ["--rate", "20", "--telemetry", "off"], env=ENV)
    try:
        etag, _ = page_and_assets(srv)
        caching(srv, etag or '"none"')
        not_found(srv)
        scenario_api(srv)
        whoami(srv)
        metrics(srv)
    finally:
        R.check(srv.stop() == 0, "the server stops cleanly")
    params_scenario()
    R.finish()


if __name__ == "__main__":
    main()
