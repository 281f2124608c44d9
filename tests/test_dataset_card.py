"""The dataset card: counts, the histogram image, time spans, licences, privacy; its loading snippets run."""
import os
import re

import cv2
import pytest

from export_scene import make_project
from walt3d_studio.dataset.export import export_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    footage = root / "footage" / "day1"
    footage.mkdir(parents=True)
    (footage.parent / "ATTRIBUTION.md").write_text("# Footage\n\nParking lot by A. Person, CC BY 4.0\n")
    p = make_project(root / "p.walt3d")
    with p.transaction() as c:
        c.execute("UPDATE sources SET path = ?", (str(footage),))
    export_dataset(p, root / "ds")
    p.close()
    return root / "ds"


@pytest.mark.slow
def test_card_contents(dataset):
    text = (dataset / "README.md").read_text()
    assert "| train | 2 | 4 | 2 | 2 |" in text
    assert "| train | vehicle | 0 | 2 | 0 | 0 | 0 |" in text           # occlusion 200/640 is in 20-40 %
    assert "2023-11-14T22:13:20+00:00" in text                         # the first source frame, camera time
    assert "CC BY 4.0" in text and "Applied: faces, plates" in text
    img = cv2.imread(str(dataset / "occlusion.png"))
    assert img is not None and img.shape[0] > 100 and (img < 128).any()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["pycocotools", "A torchvision Dataset"])
def test_loading_snippets_run(dataset, which, monkeypatch, capsys):
    text = (dataset / "README.md").read_text()
    code = re.search(rf"### {which}\n\n```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(dataset)
    exec(compile(code, f"card:{which}", "exec"), {"__name__": "card_snippet"})
    out = capsys.readouterr().out
    if which == "pycocotools":
        assert "2 images; 640 amodal px, 440 visible px" in out
    else:
        assert "torch.Size([3, 48, 64])" in out and "torch.Size([2, 48, 64])" in out


def test_detectron2_snippet_is_valid_python(dataset):
    text = (dataset / "README.md").read_text()
    code = re.search(r"### detectron2\n\n```python\n(.*?)```", text, re.S).group(1)
    compile(code, "card:detectron2", "exec")
    assert "walt3d_{split}" in code and "visible_segmentation" in code
    assert os.path.isfile(dataset / "annotations" / "val.json")
