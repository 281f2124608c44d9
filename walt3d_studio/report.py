"""`OUT/report.html`: one page a person opens in a browser after `walt3d demo` to see what every stage did.

Plain HTML with relative links to the images the stages wrote (no scripts, no network), so it opens anywhere
and can be zipped with its folder. Input is a list of steps, each `{"stage", "summary", "seconds", "figures"?,
"images"?: [(relative path, caption)], "table"?: {"header": [...], "rows": [[...]]}}`.
"""
from __future__ import annotations

import html
import time
from pathlib import Path

from . import __version__
from .atomic import write_text

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1d1d1f; padding: 0 1em }
h1 { font-size: 1.7em; margin-bottom: .2em } h2 { font-size: 1.2em; margin: 1.6em 0 .4em; border-bottom: 1px solid #ddd }
.meta { color: #555 } .secs { color: #555; font-weight: normal; font-size: .85em }
table { border-collapse: collapse; margin: .5em 0 } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left }
th { background: #f2f2f2 } td.n, th.n { text-align: right }
figure { display: inline-block; margin: .4em .8em .4em 0; vertical-align: top } figcaption { color: #444; font-size: .85em }
img { max-width: 100%; border: 1px solid #ccc } ul { margin: .3em 0 }
"""


def _numeric(v) -> bool:
    if isinstance(v, (int, float)):
        return True
    try:
        float(str(v))
        return True
    except ValueError:
        return False


def _table(t: dict) -> str:
    """Numbers right-aligned (a column whose every cell is a number), text left."""
    rows = t["rows"]
    num = [bool(rows) and all(_numeric(r[i]) for r in rows if i < len(r)) for i in range(len(t["header"]))]

    def cls(i):
        return " class=n" if i < len(num) and num[i] else ""

    head = "".join(f"<th{cls(i)}>{html.escape(str(h))}</th>" for i, h in enumerate(t["header"]))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{html.escape(_fmt(v))}</td>" for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def write_report(out_html: str | Path, title: str, steps: list[dict], total_seconds: float | None = None,
                 total_cpu_seconds: float | None = None) -> Path:
    """Write the report atomically; image paths in `steps` are relative to the report's folder."""
    out_html = Path(out_html)
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style><h1>{html.escape(title)}</h1>",
             f"<p class=meta>WALT3D Studio {__version__} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
             + (f" · {total_seconds / 60:.1f} min in all" if total_seconds is not None else "")
             + (f" ({total_cpu_seconds / 60:.1f} min of CPU time)" if total_cpu_seconds is not None else "")
             + "</p>"]
    if total_seconds is not None:
        cpu = any("cpu_seconds" in s for s in steps)
        parts.append(_table({"header": ["stage", "seconds"] + (["CPU seconds"] if cpu else []) + ["result"],
                             "rows": [[s["stage"], f"{float(s.get('seconds', 0)):.1f}"]
                                      + ([f"{float(s.get('cpu_seconds', 0)):.1f}"] if cpu else [])
                                      + [s.get("summary", "")] for s in steps]}))
    for s in steps:
        secs = (f" <span class=secs>{float(s['seconds']):.1f} s"
                + (f", {float(s['cpu_seconds']):.1f} s CPU" if "cpu_seconds" in s else "") + "</span>"
                if "seconds" in s else "")
        parts.append(f"<h2>{html.escape(s['stage'])}{secs}</h2><p>{html.escape(s.get('summary', ''))}</p>")
        if s.get("figures"):
            parts.append("<ul>" + "".join(f"<li>{html.escape(str(k))}: {html.escape(_fmt(v))}</li>"
                                          for k, v in s["figures"].items()) + "</ul>")
        if s.get("table"):
            parts.append(_table(s["table"]))
        for path, caption in s.get("images", []):
            parts.append(f"<figure><a href='{html.escape(str(path))}'><img src='{html.escape(str(path))}' "
                         f"alt='{html.escape(caption)}'></a><br><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</html>\n")
    write_text(out_html, "\n".join(parts))
    return out_html
