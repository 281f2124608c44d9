"""Decode any frame of a camera by its position in capture order, with a bounded cache and prefetch."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .timelapse import FrameCache, VideoDecoder, read_image


class FrameReader:
    """Frames of one camera: `frame(i)` returns RGB uint8. Safe to call from several threads.

    Each video has one decoder guarded by a lock, so playback continues decoding instead of seeking.
    `prefetch` decodes frames around the playhead on a background thread into the shared cache.
    """

    def __init__(self, project, camera_id: int, cache_bytes: int = 512 << 20):
        from .store.frames import source_frames

        self.table = project.frame_table(camera_id)
        self.cache = FrameCache(cache_bytes)
        self._sources = {}
        for s in project.sources(camera_id):
            entry = {"kind": s.kind, "path": Path(s.path), "lock": threading.Lock()}
            rows = source_frames(project, s.id)
            if s.kind == "images":
                entry["names"] = {r["source_index"]: r["file_name"] for r in rows}
            else:
                entry["decoder"] = VideoDecoder(s.path, [r["pts"] for r in rows])
            self._sources[s.id] = entry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._pending: set[int] = set()
        self._pending_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.table)

    def frame(self, position: int) -> np.ndarray:
        fid = int(self.table.ids[position])
        arr = self.cache.get(fid)
        if arr is None:
            arr = self._decode(position)
            self.cache.put(fid, arr)
        return arr

    def _decode(self, position: int) -> np.ndarray:
        src = self._sources[int(self.table.source_ids[position])]
        index = int(self.table.source_index[position])
        if src["kind"] == "images":
            return read_image(src["path"] / src["names"][index])
        with src["lock"]:
            return src["decoder"].get(index)

    def prefetch(self, positions) -> None:
        """Decode these positions in the background (nearest first) unless cached or queued."""
        for p in positions:
            if not 0 <= p < len(self.table):
                continue
            fid = int(self.table.ids[p])
            with self._pending_lock:
                if fid in self._pending or fid in self.cache:
                    continue
                self._pending.add(fid)
            self._pool.submit(self._prefetch_one, p, fid)

    def _prefetch_one(self, position: int, fid: int) -> None:
        try:
            self.frame(position)
        except Exception:
            pass  # the foreground read reports the error when the user reaches this frame
        finally:
            with self._pending_lock:
                self._pending.discard(fid)

    def iter_frames(self, positions):
        """Frames in the given order, for batch jobs (background, mining); bypasses the cache."""
        for p in positions:
            yield self._decode(int(p))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for src in self._sources.values():
            if "decoder" in src:
                src["decoder"].close()
