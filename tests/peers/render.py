#!/usr/bin/python3
"""render.py - renders an HTML file in headless Chromium and checks the result.

    render.py FILE --out DIR [options] [expectations]

Runs /usr/bin/chromium twice on file://FILE (in parallel, each with a fresh
profile and HOME in a temporary directory that is removed afterwards):
once with --dump-dom for the DOM as Chromium built it, once with
--screenshot for the pixels.  Network is shut off by flags
(--host-resolver-rules="MAP * ~NOTFOUND", no background networking,
component updates, sync, QUIC), so a page that needs the network renders
without it; where `unshare --net --map-root-user` works, Chromium also runs
in a network namespace of its own, with no interface but a down loopback.
Each run is killed (its whole process group) after --timeout seconds.

What is rendered is a copy of FILE (DIR/page.html) with one element added
after the doctype: a Content-Security-Policy <meta> that allows inline
style and data: images and nothing else.  So the page renders as a viewer
without JavaScript and without network sees it, a script that got into the
page cannot run (nor hang Chromium on an alert()), and anything the page
would fetch stays blank.  That <meta> is left out of the summary and of
every selector match; --allow-scripts renders FILE as it is.

Writes into DIR (created if needed):
    page.html     the page rendered (see above)
    dom.html      the DOM as Chromium serialized it (with the CSP <meta>)
    shot.png      the screenshot (--window-size, default 1200,2000)
    chromium-dom.log, chromium-shot.log   Chromium's stderr
    summary.json  counts of elements by tag, class and id; the text of every
                  element with an id; every rect.seg (enclosing svg id,
                  data-index, data-series, data-value, hover title, fill);
                  screenshot size, distinct colours, and pixel counts of
                  every segment fill and --expect-color colour
    summary.txt   the same, one fact a line, for grep:
                    chromium VERSION
                    count tag|class|id NAME N
                    seg SVGID INDEX SERIES VALUE
                    text ID TEXT
                    pixels #RRGGBB N
                    colors N
                  (whitespace inside a field is written as '_')
Prints one line a check on stdout, "ok: ..." or "FAIL: ...".

Expectations (any number, in any order):
    --expect SELECTOR N          exactly N elements match
    --expect-min SELECTOR N      at least N match
    --expect-text SELECTOR TEXT  one of them has exactly this text
                                 (textContent, whitespace collapsed)
    --expect-contains SELECTOR TEXT   one of them contains TEXT
    --expect-color '#RRGGBB' N   at least N screenshot pixels of that
                                 colour (each channel within 2)
    --min-colors N               the screenshot has at least N colours
Selectors: compound selectors tag#id.class[attr][attr=value][attr="v"]
(tag or * optional) joined by descendant (space) or child (>) combinators.

Exit: 0 every check passed; 1 a check failed; 2 usage error, or Chromium
failed, timed out, or gave an empty DOM or an unreadable PNG; 77 no
Chromium (/usr/bin/chromium, or $CHROMIUM) to run.
"""
import argparse
import collections
import html.parser
import json
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--force-color-profile=srgb",
]
CSP = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; img-src data:; font-src data:\">")
CSP_CONTENT = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
               "font-src data:")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}


class RenderError(Exception):
    pass


# --- the DOM -------------------------------------------------------------

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children = []  # Nodes and str

    def text(self):
        parts = []
        stack = [self]
        while stack:
            n = stack.pop()
            if isinstance(n, str):
                parts.append(n)
            else:
                stack.extend(reversed(n.children))
        return " ".join("".join(parts).split())

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def walk(self):
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(c for c in reversed(n.children) if isinstance(c, Node))


class TreeBuilder(html.parser.HTMLParser):
    """Chromium's serialization is regular: every non-void element is closed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(
            Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(text):
    """The tree, without the CSP <meta> render.py added."""
    b = TreeBuilder()
    b.feed(text)
    b.close()
    for n in list(b.root.walk()):
        if (n.tag == "meta" and n.attrs.get("http-equiv") == "Content-Security-Policy"
                and n.attrs.get("content") == CSP_CONTENT):
            n.parent.children.remove(n)
            break
    return b.root


def with_csp(page):
    """The page with the CSP <meta> after its doctype (before it, it would
    put the page in quirks mode)."""
    m = re.match(rb"(?:\xef\xbb\xbf)?\s*<!doctype[^>]*>", page, re.I)
    i = m.end() if m else 0
    return page[:i] + CSP.encode() + page[i:]


# --- selectors -----------------------------------------------------------

COMPOUND = re.compile(r"""
    (?P<tag>\*|[A-Za-z][A-Za-z0-9-]*)?
    (?P<rest>(?:\#[A-Za-z0-9_-]+|\.[A-Za-z0-9_-]+|
        \[[A-Za-z_:][-A-Za-z0-9_:.]*(?:=(?:"[^"]*"|'[^']*'|[^\]"']*))?\])*)
    """, re.X)
SIMPLE = re.compile(r"""\#(?P<id>[A-Za-z0-9_-]+)|\.(?P<cls>[A-Za-z0-9_-]+)|
    \[(?P<attr>[A-Za-z_:][-A-Za-z0-9_:.]*)(?:=(?:"(?P<v1>[^"]*)"|'(?P<v2>[^']*)'|(?P<v3>[^\]"']*)))?\]""",
                    re.X)


def parse_selector(sel):
    """A list of (combinator, test) from left to right; combinator ' ' or '>'."""
    steps = []
    s = sel.strip()
    comb = " "
    while s:
        if s[0] == ">":
            comb = ">"
            s = s[1:].lstrip()
            continue
        m = COMPOUND.match(s)
        if not m or m.end() == 0:
            raise ValueError("bad selector: %r" % sel)
        tag = (m.group("tag") or "*").lower()
        conds = []
        for sm in SIMPLE.finditer(m.group("rest")):
            if sm.group("id"):
                conds.append(("id", sm.group("id")))
            elif sm.group("cls"):
                conds.append(("class", sm.group("cls")))
            else:
                v = next((x for x in (sm.group("v1"), sm.group("v2"), sm.group("v3"))
                          if x is not None), None)
                conds.append(("attr", sm.group("attr").lower(), v))
        steps.append((comb, tag, conds))
        comb = " "
        s = s[m.end():]
        if s and not s[0].isspace() and s[0] != ">":
            raise ValueError("bad selector: %r" % sel)
        s = s.lstrip()
    if not steps:
        raise ValueError("empty selector")
    return steps


def matches_compound(n, tag, conds):
    if tag != "*" and n.tag != tag:
        return False
    for c in conds:
        if c[0] == "id" and n.attrs.get("id") != c[1]:
            return False
        if c[0] == "class" and c[1] not in n.classes():
            return False
        if c[0] == "attr":
            if c[1] not in n.attrs or (c[2] is not None and n.attrs[c[1]] != c[2]):
                return False
    return True


def matches(n, steps, i=None):
    if i is None:
        i = len(steps) - 1
    comb, tag, conds = steps[i]
    if not matches_compound(n, tag, conds):
        return False
    if i == 0:
        return True
    p = n.parent
    if comb == ">":
        return p is not None and p.tag != "#document" and matches(p, steps, i - 1)
    while p is not None and p.tag != "#document":
        if matches(p, steps, i - 1):
            return True
        p = p.parent
    return False


def select(root, sel):
    steps = parse_selector(sel)
    return [n for n in root.walk() if n.tag != "#document" and matches(n, steps)]


# --- the PNG -------------------------------------------------------------

_MASKS = {}


def _add_rows(a, b):
    """Octet-wise (a + b) mod 256 of two rows, as big integers: no Python loop.
    The low seven bits of each octet add without reaching the next octet;
    the top bit is their carry xor the two top bits."""
    n = len(a)
    if n not in _MASKS:
        _MASKS[n] = (int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big"))
    low, high = _MASKS[n]
    x = int.from_bytes(a, "big")
    y = int.from_bytes(b, "big")
    return (((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(n, "big")


def decode_png(data):
    """(width, height, channels, rows): 8-bit RGB or RGBA, not interlaced."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise RenderError("screenshot is not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise RenderError("PNG without IHDR")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        raise RenderError("unsupported PNG (depth %d, colour type %d, interlace %d)"
                          % (depth, ctype, interlace))
    ch = 3 if ctype == 2 else 4
    stride = w * ch
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != h * (stride + 1):
        raise RenderError("PNG data has the wrong size")
    rows = []
    prev = bytes(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        cur = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            row = cur
        elif f == 2:
            row = _add_rows(cur, prev)
        else:
            r = bytearray(cur)
            if f == 1:
                for i in range(ch, stride):
                    r[i] = (r[i] + r[i - ch]) & 255
            elif f == 3:
                for i in range(stride):
                    left = r[i - ch] if i >= ch else 0
                    r[i] = (r[i] + ((left + prev[i]) >> 1)) & 255
            elif f == 4:
                for i in range(stride):
                    a = r[i - ch] if i >= ch else 0
                    b = prev[i]
                    c = prev[i - ch] if i >= ch else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    r[i] = (r[i] + pr) & 255
            else:
                raise RenderError("bad PNG filter %d" % f)
            row = bytes(r)
        rows.append(row)
        prev = row
    return w, h, ch, rows


def count_colors(w, ch, rows):
    """Counter of '#RRGGBB' over all pixels (alpha ignored)."""
    counts = collections.Counter()
    blank = None
    for row in rows:
        if blank is not None and row == blank:
            counts["#FFFFFF"] += w
            continue
        if ch == 4:
            rgb = bytearray(w * 3)
            rgb[0::3] = row[0::4]
            rgb[1::3] = row[1::4]
            rgb[2::3] = row[2::4]
            row3 = bytes(rgb)
        else:
            row3 = row
        if row3 == b"\xff" * (w * 3):
            blank = row
            counts["#FFFFFF"] += w
            continue
        c = collections.Counter(row3[i:i + 3] for i in range(0, w * 3, 3))
        for k, v in c.items():
            counts["#%02X%02X%02X" % (k[0], k[1], k[2])] += v
    return counts


def near(counts, color, tolerance=2):
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    total = 0
    for k, v in counts.items():
        if (abs(int(k[1:3], 16) - r) <= tolerance and abs(int(k[3:5], 16) - g) <= tolerance
                and abs(int(k[5:7], 16) - b) <= tolerance):
            total += v
    return total


def normal_color(c):
    c = (c or "").strip()
    if re.fullmatch(r"#[0-9A-Fa-f]{3}", c):
        c = "#" + "".join(x * 2 for x in c[1:])
    return c.upper() if re.fullmatch(r"#[0-9A-Fa-f]{6}", c) else None


# --- Chromium ------------------------------------------------------------

def isolation():
    """The command prefix that gives Chromium no network at all, if any works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        r = subprocess.run([unshare, "--net", "--map-root-user", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [unshare, "--net", "--map-root-user"] if r.returncode == 0 else []


def start_chromium(prefix, extra, url, workdir, name, timeout):
    profile = os.path.join(workdir, name)
    os.mkdir(profile)
    env = {k: v for k, v in os.environ.items()
           if k not in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy")}
    env.update(HOME=profile, XDG_CONFIG_HOME=profile + "/.config",
               XDG_CACHE_HOME=profile + "/.cache", DBUS_SESSION_BUS_ADDRESS="disabled:",
               LANG="C.UTF-8", TZ="UTC")
    out = open(os.path.join(workdir, name + ".out"), "wb")
    err = open(os.path.join(workdir, name + ".err"), "wb")
    p = subprocess.Popen(prefix + [CHROMIUM] + FLAGS + ["--user-data-dir=" + profile] + extra + [url],
                         stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                         start_new_session=True, cwd=workdir)
    out.close()
    err.close()
    return (p, time.monotonic(), timeout, name)


def finish_chromium(run, workdir, outdir):
    p, started, timeout, name = run
    try:
        rc = p.wait(timeout=max(0.1, started + timeout - time.monotonic()))
    except subprocess.TimeoutExpired:
        rc = None
    # Its helpers (zygote, renderers) are in the session we started: end them all.
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if rc is None:
        p.wait()
    elapsed = time.monotonic() - started
    with open(os.path.join(workdir, name + ".out"), "rb") as f:
        out = f.read()
    with open(os.path.join(workdir, name + ".err"), "rb") as f:
        err = f.read().decode("utf-8", "replace")
    with open(os.path.join(outdir, "chromium-%s.log" % name), "w", encoding="utf-8") as f:
        f.write(err)
    if rc is None:
        raise RenderError("chromium (%s) did not finish within %d s" % (name, timeout))
    if rc != 0:
        tail = "\n".join(err.strip().splitlines()[-5:])
        raise RenderError("chromium (%s) exited %d:\n%s" % (name, rc, tail))
    return out, elapsed


def chromium_version():
    try:
        r = subprocess.run([CHROMIUM, "--version"], capture_output=True, timeout=30,
                           env=dict(os.environ, HOME=tempfile.gettempdir()))
        return " ".join(r.stdout.decode("utf-8", "replace").split())
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


# --- the summary and the checks ------------------------------------------

def field(s):
    s = "_".join(str(s).split())
    return s if s else "_"


def summarize(root, counts, colors_of_interest, shot):
    tags, classes, ids = collections.Counter(), collections.Counter(), collections.Counter()
    texts, segs = {}, []
    for n in root.walk():
        if n.tag == "#document":
            continue
        tags[n.tag] += 1
        for c in n.classes():
            classes[c] += 1
        if "id" in n.attrs:
            ids[n.attrs["id"]] += 1
            texts.setdefault(n.attrs["id"], n.text()[:500])
        if n.tag == "rect" and "seg" in n.classes():
            svg = n.parent
            while svg is not None and svg.tag != "svg":
                svg = svg.parent
            segs.append({
                "svg": svg.attrs.get("id", "") if svg is not None else "",
                "index": n.attrs.get("data-index", ""),
                "series": n.attrs.get("data-series", ""),
                "value": n.attrs.get("data-value", ""),
                "fill": n.attrs.get("fill", ""),
                "title": n.text(),
            })
    summary = {
        "counts": {"tag": dict(sorted(tags.items())), "class": dict(sorted(classes.items())),
                   "id": dict(sorted(ids.items()))},
        "text": texts,
        "segments": segs,
    }
    if shot is not None:
        w, h = shot
        summary["screenshot"] = {
            "width": w, "height": h, "colors": len(counts),
            "pixels": {c: near(counts, c) for c in sorted(colors_of_interest)},
        }
    return summary


def summary_text(s, version):
    lines = ["chromium " + field(version)]
    for kind in ("tag", "class", "id"):
        for k, v in s["counts"][kind].items():
            lines.append("count %s %s %d" % (kind, field(k), v))
    for g in s["segments"]:
        lines.append("seg %s %s %s %s" % (field(g["svg"]), field(g["index"]),
                                          field(g["series"]), field(g["value"])))
    for k, v in s["text"].items():
        lines.append("text %s %s" % (field(k), v))
    if "screenshot" in s:
        for c, v in s["screenshot"]["pixels"].items():
            lines.append("pixels %s %d" % (c, v))
        lines.append("colors %d" % s["screenshot"]["colors"])
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description="render HTML in headless Chromium and check it")
    ap.add_argument("file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--window-size", default="1200,2000")
    ap.add_argument("--no-screenshot", action="store_true")
    ap.add_argument("--allow-scripts", action="store_true")
    ap.add_argument("--expect", nargs=2, action="append", default=[], metavar=("SEL", "N"))
    ap.add_argument("--expect-min", nargs=2, action="append", default=[], metavar=("SEL", "N"))
    ap.add_argument("--expect-text", nargs=2, action="append", default=[],
                    metavar=("SEL", "TEXT"))
    ap.add_argument("--expect-contains", nargs=2, action="append", default=[],
                    metavar=("SEL", "TEXT"))
    ap.add_argument("--expect-color", nargs=2, action="append", default=[],
                    metavar=("COLOR", "N"))
    ap.add_argument("--min-colors", type=int)
    try:
        a = ap.parse_args()
        for sel, _ in a.expect + a.expect_min + a.expect_text + a.expect_contains:
            parse_selector(sel)
        for _, n in a.expect + a.expect_min + a.expect_color:
            int(n)
        for c, _ in a.expect_color:
            if normal_color(c) is None:
                raise ValueError("bad colour %r" % c)
        if not re.fullmatch(r"\d+,\d+", a.window_size):
            raise ValueError("bad --window-size %r" % a.window_size)
    except ValueError as e:
        print("render.py: %s" % e, file=sys.stderr)
        return 2
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        print("render.py: no chromium at %s" % CHROMIUM, file=sys.stderr)
        return 77
    if not os.path.isfile(a.file):
        print("render.py: no such file: %s" % a.file, file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    if a.allow_scripts:
        url = pathlib.Path(os.path.abspath(a.file)).as_uri()
    else:
        with open(a.file, "rb") as f:
            page = f.read()
        rendered = os.path.join(os.path.abspath(a.out), "page.html")
        with open(rendered, "wb") as f:
            f.write(with_csp(page))
        url = pathlib.Path(rendered).as_uri()
    work = tempfile.mkdtemp(prefix="mailshot-render.")
    shot_path = os.path.join(os.path.abspath(a.out), "shot.png")
    try:
        if os.path.exists(shot_path):
            os.unlink(shot_path)
        prefix = isolation()
        runs = [start_chromium(prefix, ["--dump-dom"], url, work, "dom", a.timeout)]
        if not a.no_screenshot:
            runs.append(start_chromium(prefix, ["--screenshot=" + shot_path,
                                        "--window-size=" + a.window_size],
                                       url, work, "shot", a.timeout))
        # Both are waited for (and their process groups ended) before any error counts.
        results, errors = [], []
        for r in runs:
            try:
                results.append(finish_chromium(r, work, a.out))
            except RenderError as e:
                errors.append(e)
        if errors:
            raise errors[0]
        dom_bytes, dom_time = results[0]
        dom = dom_bytes.decode("utf-8", "replace")
        if "<html" not in dom:
            raise RenderError("chromium gave no DOM")
        with open(os.path.join(a.out, "dom.html"), "w", encoding="utf-8") as f:
            f.write(dom)
        root = parse_dom(dom)
        counts, shot, shot_time = collections.Counter(), None, 0.0
        if not a.no_screenshot:
            shot_time = results[1][1]
            try:
                with open(shot_path, "rb") as f:
                    png = f.read()
            except OSError as e:
                raise RenderError("no screenshot: %s" % e)
            w, h, ch, rows = decode_png(png)
            counts = count_colors(w, ch, rows)
            shot = (w, h)
    except RenderError as e:
        print("render.py: %s" % e, file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)

    interest = {normal_color(c) for c, _ in a.expect_color}
    for n in select(root, "rect.seg"):
        c = normal_color(n.attrs.get("fill"))
        if c:
            interest.add(c)
    version = chromium_version()
    s = summarize(root, counts, interest, shot)
    s["chromium"] = version
    s["seconds"] = {"dom": round(dom_time, 2), "screenshot": round(shot_time, 2)}
    s["network_namespace"] = bool(prefix)
    with open(os.path.join(a.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(s, f, indent=1, ensure_ascii=False, sort_keys=True)
    with open(os.path.join(a.out, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(summary_text(s, version))

    print("render: %s; DOM in %.1f s, screenshot in %.1f s; network %s"
          % (version, dom_time, shot_time, "namespace" if prefix else "off by flags"))
    failed = 0

    def report(ok, what):
        nonlocal failed
        print(("ok: " if ok else "FAIL: ") + what)
        failed += not ok

    for sel, n in a.expect:
        got = len(select(root, sel))
        report(got == int(n), "%s: %d, expected %s" % (sel, got, n))
    for sel, n in a.expect_min:
        got = len(select(root, sel))
        report(got >= int(n), "%s: %d, expected at least %s" % (sel, got, n))
    for sel, text in a.expect_text:
        found = [x.text() for x in select(root, sel)]
        report(text in found, "%s has text %r%s" % (sel, text, "" if text in found else
                                                    " (found %r)" % found[:5]))
    for sel, text in a.expect_contains:
        found = [x.text() for x in select(root, sel)]
        ok = any(text in t for t in found)
        report(ok, "%s contains %r%s" % (sel, text, "" if ok else " (found %r)" % found[:5]))
    for c, n in a.expect_color:
        got = near(counts, normal_color(c)) if shot else 0
        report(got >= int(n), "%s pixels: %d, expected at least %s" % (normal_color(c), got, n))
    if a.min_colors is not None:
        report(len(counts) >= a.min_colors,
               "colours in the screenshot: %d, expected at least %d" % (len(counts),
                                                                         a.min_colors))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
