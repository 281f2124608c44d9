import os

import cv2
import numpy as np
import pytest

from walt3d_studio.errors import BadInputError
from walt3d_studio.jobs import silent
from walt3d_studio.store import Project
from walt3d_studio.timelapse import parse_filename_time, scan_image_folder, scan_source

from conftest import GIF, MP4, decode_all


@pytest.mark.parametrize("name, expected", [
    ("cam_20240501_080003.jpg", "2024-05-01T08:00:03"),
    ("2024-05-01T08-00-03.png", "2024-05-01T08:00:03"),
    ("2024-05-01 08:00:03.250.jpg", "2024-05-01T08:00:03.250"),
    ("img20240501080003.jpg", "2024-05-01T08:00:03"),
    ("frame_0001.jpg", None),
    ("20241301_080003.jpg", None),  # month 13: not a time
])
def test_time_from_file_name(name, expected):
    import datetime as dt

    t = parse_filename_time(name, "UTC")
    if expected is None:
        assert t is None
    else:
        assert t == pytest.approx(dt.datetime.fromisoformat(expected + "+00:00").timestamp())


def test_truncated_and_garbage_images_are_skipped_and_reported(image_folder):
    good = (image_folder / "cam_20240501_080001.png").read_bytes()
    (image_folder / "cam_20240501_080001.png").write_bytes(good[: len(good) // 2])  # truncated
    (image_folder / "cam_20240501_080009.jpg").write_bytes(b"not an image")
    s = scan_image_folder(image_folder, "UTC", silent())
    assert len(s.times) == 5
    assert sorted(x["name"] for x in s.skipped) == ["cam_20240501_080001.png", "cam_20240501_080009.jpg"]


def test_empty_and_mixed_size_folders_say_what_to_do(tmp_path, image_folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    with pytest.raises(BadInputError, match="holds no images") as e:
        scan_source(empty, "UTC", silent())
    assert "video" in e.value.hint
    cv2.imwrite(str(image_folder / "big_20240501_090000.png"), np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(BadInputError, match=r"64x48 \(6 files\), 100x100 \(1 files\)") as e:
        scan_source(image_folder, "UTC", silent())
    assert "split the folder" in e.value.hint


def test_times_from_exif_then_mtime_then_rate(tmp_path):
    from PIL import Image

    folder = tmp_path / "exif"
    folder.mkdir()
    for i in range(3):
        im = Image.new("RGB", (16, 8), (i, i, i))
        exif = Image.Exif()
        exif[306] = f"2024:05:01 10:00:0{i}"
        im.save(folder / f"f{i}.jpg", exif=exif)
    s = scan_image_folder(folder, "UTC", silent())
    assert s.time_origin == "exif" and s.times[1] - s.times[0] == pytest.approx(1.0)

    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.zeros((8, 16, 3), np.uint8))
        os.utime(folder / f"f{i}.png", (1000 + 10 * i, 1000 + 10 * i))
    s = scan_image_folder(folder, "UTC", silent())
    assert s.time_origin == "mtime" and s.times == [1000, 1010, 1020]
    for i in range(3):
        os.utime(folder / f"f{i}.png", (500, 500))  # copied files: equal mtimes tell nothing
    s = scan_image_folder(folder, "UTC", silent())
    assert s.time_origin == "fps" and s.times == [500, 501, 502]
    s = scan_image_folder(folder, "UTC", silent(), start=100.0, fps=4.0)
    assert s.times == [100.0, 100.25, 100.5]


def test_unopenable_video_says_what_to_do(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(BadInputError, match="Cannot open the video") as e:
        scan_source(bad, "UTC", silent())
    assert "convert it" in e.value.hint
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(BadInputError, match="neither a folder"):
        scan_source(tmp_path / "notes.txt", "UTC", silent())


def test_video_frames_decode_by_exact_index_in_any_order(tmp_path):
    frames = decode_all(MP4)
    with Project.create(tmp_path / "p") as p:
        src = p.add_source(MP4)
        assert src.n_frames == len(frames) == 377 and src.time_origin == "metadata"
        t = p.frame_table(src.camera_id)
        assert t.times[1] - t.times[0] == pytest.approx(0.08)  # 12.5 fps from the container's timestamps
        reader = p.frame_reader(src.camera_id)
        try:
            for i in [300, 0, 1, 2, 150, 376, 149, 10]:
                assert np.array_equal(reader.frame(i), frames[i]), i
        finally:
            reader.close()


def test_gif_frames_and_user_start_time(tmp_path):
    frames = decode_all(GIF)
    with Project.create(tmp_path / "p") as p:
        src = p.add_source(GIF, start=1_700_000_000.0)
        t = p.frame_table(src.camera_id)
        assert src.time_origin == "user" and t.times[0] == 1_700_000_000.0
        reader = p.frame_reader(src.camera_id)
        try:
            for i in [40, 3, 4, 0, 20]:
                assert np.array_equal(reader.frame(i), frames[i]), i
        finally:
            reader.close()


def test_frame_cache_stays_within_its_budget(tmp_path):
    with Project.create(tmp_path / "p") as p:
        src = p.add_source(MP4)
        one = 432 * 768 * 3
        reader = p.frame_reader(src.camera_id, cache_bytes=5 * one)
        try:
            for i in range(40):
                reader.frame(i)
            assert len(reader.cache) == 5
            reader.prefetch(range(40, 44))
            reader._pool.submit(lambda: None).result()  # the prefetch queue has drained
            assert all(int(reader.table.ids[i]) in reader.cache for i in range(40, 44))
        finally:
            reader.close()
