"""Render the demo's report.html to a PNG headless (Qt's rich-text engine: tables, lists and images, no scripts),
for docs/screenshots/demo-report.png. Usage: python scripts/report_screenshot.py demo-out/report.html OUT.png"""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(report: str, out: str, width: int = 1100, max_height: int = 2600) -> None:
    from PySide6.QtCore import QUrl
    from PySide6.QtWidgets import QApplication, QTextBrowser

    app = QApplication.instance() or QApplication([])
    view = QTextBrowser()
    path = Path(report).resolve()
    view.setSearchPaths([str(path.parent)])
    view.document().setBaseUrl(QUrl.fromLocalFile(str(path.parent) + "/"))
    view.setHtml(path.read_text())
    view.document().setTextWidth(width - 20)
    height = min(int(view.document().size().height()) + 30, max_height)
    view.resize(width, height)
    view.show()
    app.processEvents()
    view.grab().save(out)
    print(f"wrote {out} ({width}x{height})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
