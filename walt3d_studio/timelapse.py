"""Frame sources: scanning image folders and videos at import, and decoding any frame by exact index.

Frames are RGB uint8 (H, W, 3) everywhere in the program. Capture times are UTC seconds since the epoch.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .errors import BadInputError
from .jobs import JobContext

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".avi", ".gif", ".mov", ".mkv", ".m4v", ".webm"}

# 2023-10-05_14-30-12, 20231005T143012, 2023-10-05 14:30:12.250, cam1_20231005143012.jpg ...
_STAMP = re.compile(
    r"(?<!\d)(20\d{2}|19\d{2})[-_.]?(\d{2})[-_.]?(\d{2})[T_\- ]?(\d{2})[-_.:h]?(\d{2})[-_.:m]?(\d{2})"
    r"(?:[.,](\d{1,6}))?(?!\d)"
)


@dataclass
class ScannedSource:
    """What an import found: the frames in decode order with capture times, and what was skipped."""

    kind: str  # "images" | "video"
    path: Path
    size: tuple[int, int]  # (w, h)
    times: list[float]
    time_origin: str
    file_names: list[str] | None = None  # images
    pts: list[int] | None = None  # video
    fps: float | None = None
    start_time: float | None = None
    skipped: list[dict] = field(default_factory=list)  # {"name":..., "reason":...}


def default_timezone() -> str:
    """The machine's IANA zone name, or UTC when it cannot be told."""
    tz = os.environ.get("TZ")
    if tz and "/" in tz:
        return tz
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def parse_filename_time(name: str, tz: str) -> float | None:
    """Capture time from a timestamp in the file name (local time of the camera), or None."""
    m = _STAMP.search(Path(name).stem)
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        local = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=ZoneInfo(tz))
    except ValueError:
        return None
    return local.timestamp() + (float("0." + frac) if frac else 0.0)


def parse_user_time(text: str, tz: str) -> float:
    """A user-given start time (ISO 8601; local time of the camera unless it names an offset)."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"Cannot read the start time {text!r}.",
                            "Give it as ISO 8601, e.g. 2024-05-01T07:30:00 (camera local time) or with +02:00.")
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(tz))
    return t.timestamp()


def _exif_time(im, tz: str) -> float | None:
    exif = im.getexif()
    raw = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, else DateTime
    if not raw:
        return None
    try:
        local = dt.datetime.strptime(str(raw).strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=ZoneInfo(tz))
    except ValueError:
        return None
    return local.timestamp()


def _check_image(path: Path, tz: str) -> tuple[tuple[int, int] | None, float | None, str | None]:
    """Fully decode one image (to catch truncation) and read its EXIF time. Returns (size, exif, error)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            exif = _exif_time(im, tz)
            im.load()  # raises on truncated or corrupt data
            return im.size, exif, None
    except Exception as e:  # PIL raises many types for bad files; all mean "skip it"
        return None, None, f"{type(e).__name__}: {e}"


def scan_image_folder(folder: Path, tz: str, ctx: JobContext, *, start: float | None = None,
                      fps: float | None = None) -> ScannedSource:
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not names:
        raise BadInputError(f"The folder {folder} holds no images.",
                            f"Add a folder with {', '.join(sorted(IMAGE_EXTS))} files, or a video file.")
    from concurrent.futures import ThreadPoolExecutor

    checked: list[tuple] = []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for i, res in enumerate(pool.map(lambda n: _check_image(folder / n, tz), names)):
            checked.append(res)
            if i % 16 == 0:
                ctx.progress(i, len(names), f"checking {names[i]}")
    ok = [(n, size, exif) for n, (size, exif, err) in zip(names, checked) if err is None]
    skipped = [{"name": n, "reason": err} for n, (_, _, err) in zip(names, checked) if err is not None]
    if not ok:
        raise BadInputError(f"None of the {len(names)} images in {folder} could be read.",
                            "The files may be damaged or not images; check a few in an image viewer.")
    sizes: dict[tuple[int, int], int] = {}
    for _, size, _ in ok:
        sizes[size] = sizes.get(size, 0) + 1
    if len(sizes) > 1:
        listing = ", ".join(f"{w}x{h} ({c} files)" for (w, h), c in sorted(sizes.items(), key=lambda kv: -kv[1]))
        raise BadInputError(f"The images in {folder} have different sizes: {listing}.",
                            "A camera's frames must all have one size: split the folder by size and add each "
                            "part as its own camera (or resize them first).")
    names_ok = [n for n, _, _ in ok]
    times, origin = _image_times(folder, names_ok, [e for _, _, e in ok], tz, start, fps)
    return ScannedSource("images", folder, next(iter(sizes)), times, origin, file_names=names_ok,
                         skipped=skipped, fps=fps, start_time=start)


def _image_times(folder, names, exif_times, tz, start, fps) -> tuple[list[float], str]:
    """File name stamp, else EXIF, else file time, else a frame rate; one rule for the whole source."""
    if fps is not None:  # the user said how the frames are spaced
        t0 = start if start is not None else min(os.stat(folder / n).st_mtime for n in names)
        return [t0 + i / fps for i in range(len(names))], "fps"
    stamps = [parse_filename_time(n, tz) for n in names]
    if all(s is not None for s in stamps):
        return stamps, "filename"
    if all(e is not None for e in exif_times):
        return list(exif_times), "exif"
    mtimes = [os.stat(folder / n).st_mtime for n in names]
    if len(set(mtimes)) == len(mtimes):
        return mtimes, "mtime"
    t0 = start if start is not None else min(mtimes)
    return [t0 + float(i) for i in range(len(names))], "fps"  # 1 frame/s: nothing better is known


def _open_video(path: Path):
    import av

    try:
        container = av.open(str(path))
    except Exception as e:
        raise BadInputError(f"Cannot open the video {path}: {e}.",
                            "The file may be damaged or use a codec this build cannot decode; "
                            "convert it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4) or export it as images.")
    if not container.streams.video:
        container.close()
        raise BadInputError(f"{path} has no video stream.", "Add a video file or a folder of images.")
    return container


def scan_video(path: Path, tz: str, ctx: JobContext, *, start: float | None = None,
               fps: float | None = None) -> ScannedSource:
    """Decode every frame once: it finds the exact frame count, each frame's pts, and any bad frames."""
    path = Path(path)
    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        expected = stream.frames or 0
        pts: list[int] = []
        skipped: list[dict] = []
        size = (stream.codec_context.width, stream.codec_context.height)
        packet_no = 0
        for packet in container.demux(stream):
            packet_no += 1
            try:
                frames = packet.decode()
            except Exception as e:  # a corrupt packet: skip it, keep going
                skipped.append({"name": f"{path.name} packet {packet_no}", "reason": f"{type(e).__name__}: {e}"})
                continue
            for f in frames:
                if (f.width, f.height) != size:
                    skipped.append({"name": f"{path.name} frame pts {f.pts}", "reason": "frame size changed"})
                    continue
                pts.append(f.pts if f.pts is not None else len(pts))
            if packet_no % 50 == 0:
                ctx.progress(len(pts), max(expected, len(pts)), f"scanning {path.name}")
        if not pts:
            raise BadInputError(f"No frame of {path} could be decoded.",
                                "The file may be damaged; try re-encoding it or exporting images.")
        time_base = float(stream.time_base) if stream.time_base else None
        rate = float(stream.average_rate) if stream.average_rate else None
        created = container.metadata.get("creation_time") or stream.metadata.get("creation_time")
    finally:
        container.close()
    if start is not None:
        t0, origin = start, "user"
    elif created:
        t0, origin = dt.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp(), "metadata"
    else:
        t0, origin = os.stat(path).st_mtime, "mtime"
    if fps is not None or time_base is None:
        step = fps or rate or 1.0
        times = [t0 + i / step for i in range(len(pts))]
        origin = origin + "+fps"
    else:
        times = [t0 + (p - pts[0]) * time_base for p in pts]
    return ScannedSource("video", path, size, times, origin, pts=pts, fps=fps or rate, start_time=t0,
                         skipped=skipped)


def scan_source(path: Path, tz: str, ctx: JobContext, **kw) -> ScannedSource:
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path} does not exist.", "Check the path and try again.")
    if path.is_dir():
        return scan_image_folder(path, tz, ctx, **kw)
    if path.suffix.lower() in VIDEO_EXTS:
        return scan_video(path, tz, ctx, **kw)
    raise BadInputError(f"{path.name} is neither a folder of images nor a video file.",
                        f"Add a folder of images or a video ({', '.join(sorted(VIDEO_EXTS))}).")


class VideoDecoder:
    """Decodes frames of one video by exact index: sequential reads continue, jumps seek to a keyframe."""

    def __init__(self, path: Path, pts: list[int]):
        self.path = Path(path)
        self.pts = pts
        self._index_of = {p: i for i, p in enumerate(pts)}
        self._container = None
        self._frames = None  # the decode iterator
        self._next = 0  # index of the frame the iterator yields next

    def _restart(self, target_pts: int | None):
        if self._container is None:
            self._container = _open_video(self.path)
            self._container.streams.video[0].thread_type = "AUTO"
        stream = self._container.streams.video[0]
        if target_pts is None:
            self._container.seek(0, stream=stream)
        else:
            self._container.seek(target_pts, stream=stream, backward=True, any_frame=False)
        self._frames = self._container.decode(stream)
        self._next = -1  # unknown until the first frame tells its pts

    def get(self, index: int) -> np.ndarray:
        if self._frames is None or not (0 <= self._next <= index) or index - self._next > 48:
            self._restart(self.pts[index] if index > 0 else None)
        for attempt in range(2):
            for frame in self._frames:
                i = self._index_of.get(frame.pts, self._next if self._next >= 0 else None)
                if i is None:
                    continue
                self._next = i + 1
                if i == index:
                    return frame.to_ndarray(format="rgb24")
                if i > index:
                    break  # the seek overshot (some demuxers, e.g. GIF): decode from the start
            self._restart(None)
        raise BadInputError(f"Frame {index} of {self.path.name} could not be decoded.",
                            "The video may have changed since it was imported; add it again.")

    def close(self):
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None


def read_image(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadInputError(f"Cannot read the image {path}.",
                            "It may have been moved or damaged since import; restore it or remove its source.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class FrameCache:
    """A thread-safe LRU of decoded frames bounded by bytes, so scrubbing long sequences stays bounded."""

    def __init__(self, max_bytes: int = 512 << 20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: int) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: int, arr: np.ndarray) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = arr
            self._bytes += arr.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def __contains__(self, key: int) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)
