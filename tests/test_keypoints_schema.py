"""Keypoint schemas: the built-in files, the joint layout, and clear errors for bad schema files."""
import json

import numpy as np
import pytest

from walt3d_studio.errors import BadInputError
from walt3d_studio.keypoints.schema import (builtin_schemas, joint_layout, load_schema, schema_for_category,
                                            schema_from_dict)

VEHICLE12 = ["Right_Front_wheel", "Left_Front_wheel", "Right_Back_wheel", "Left_Back_wheel",
             "Right_Front_HeadLight", "Left_Front_HeadLight", "Right_Back_HeadLight", "Left_Back_HeadLight",
             "Right_Front_Top", "Left_Front_Top", "Right_Back_Top", "Left_Back_Top"]
COCO17 = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
          "right_knee", "left_ankle", "right_ankle"]
COCO17_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                   [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
# CarFusion's skeleton over its 14 0-based ids (none touches 8 Exhaust or 13 Center).
CARFUSION_SKELETON = [[0, 2], [1, 3], [0, 1], [2, 3], [9, 11], [10, 12], [9, 10], [11, 12], [4, 0], [4, 9], [4, 5],
                      [5, 1], [5, 10], [6, 2], [6, 11], [7, 3], [7, 12], [6, 7]]


def test_builtin_vehicle12_follows_carfusion():
    s = load_schema("vehicle12")
    assert list(s.keypoints) == VEHICLE12 and s.category == "vehicle"
    cf_to_ours = {**{i: i for i in range(8)}, **{i: i - 1 for i in range(9, 13)}}
    assert sorted(map(sorted, s.skeleton)) == sorted(sorted([cf_to_ours[a], cf_to_ours[b]])
                                                     for a, b in CARFUSION_SKELETON)
    assert s.flip_index() == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10]
    assert all(d for d in s.descriptions)
    assert s.applies_to("car") and not s.applies_to("person")


def test_builtin_person17_is_coco():
    s = load_schema("person17")
    assert list(s.keypoints) == COCO17
    assert s.coco_skeleton() == COCO17_SKELETON
    flip = s.flip_index()
    assert flip[0] == 0 and flip[1] == 2 and flip[15] == 16 and sorted(flip) == list(range(17))
    assert schema_for_category("person").name == "person17"
    assert schema_for_category("car").name == "vehicle12"
    assert schema_for_category("traffic light") is None
    assert set(builtin_schemas()) >= {"vehicle12", "person17"}


def test_joint_layout_29_slots():
    lay = joint_layout("vehicle12", "person17")
    assert lay.total == 29 and lay.slots("vehicle12") == slice(0, 12) and lay.slots("person17") == slice(12, 29)
    flip = lay.flip_index()
    assert flip[:12] == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10] and flip[12] == 12 and flip[13] == 14
    kp = np.tile([[5.0, 6.0, 2.0]], (17, 1))
    full = lay.pack("person17", kp)
    assert np.all(full[:12] == 0) and np.array_equal(lay.unpack("person17", full), kp)
    with pytest.raises(BadInputError):
        lay.slots("bicycle6")


def test_schema_file_by_path_roundtrips(tmp_path):
    s = load_schema("vehicle12")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**s.to_dict(), "name": "vehicle12b"}))
    t = load_schema(path)
    assert t.name == "vehicle12b" and t.keypoints == s.keypoints and t.skeleton == s.skeleton
    assert t.flip_pairs == s.flip_pairs and t.descriptions == s.descriptions


def test_minimal_schema_with_indices():
    s = schema_from_dict({"name": "tri", "category": "thing", "keypoints": ["a", "b", "c"],
                          "skeleton": [[0, 1], ["b", "c"]], "flip_pairs": [[0, 2]]})
    assert s.skeleton == ((0, 1), (1, 2)) and s.flip_index() == [2, 1, 0] and s.coco_skeleton() == [[1, 2], [2, 3]]


def _good():
    return {"name": "tri", "category": "thing", "keypoints": ["a", "b", "c"], "skeleton": [["a", "b"]],
            "flip_pairs": [["a", "c"]]}


@pytest.mark.parametrize("change, words", [
    ({"keypoints": []}, "'keypoints' must be a non-empty list"),
    ({"keypoints": ["a", "a", "b"]}, "repeated: a"),
    ({"name": ""}, "'name' must be a non-empty string"),
    ({"skeleton": [["a", "z"]]}, "unknown keypoint 'z'"),
    ({"skeleton": [[0, 3]]}, "index 3 is out of range 0..2"),
    ({"skeleton": [["a"]]}, "skeleton[0] must be a pair"),
    ({"flip_pairs": [["a", "a"]]}, "pairs 'a' with itself"),
    ({"flip_pairs": [["a", "b"], ["a", "c"]]}, "'a' is in more than one flip pair"),
    ({"format": "labelme"}, "format is 'labelme'"),
    ({"version": 99}, "version 99 is newer"),
    ({"keypoints": [{"description": "no name"}]}, "keypoint 0 must be a name"),
])
def test_bad_schemas_say_what_is_wrong(change, words):
    with pytest.raises(BadInputError) as e:
        schema_from_dict({**_good(), **change}, source="bad.json")
    assert words in str(e.value) and "bad.json" in str(e.value)


def test_bad_schema_files(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"name": "x",')
    with pytest.raises(BadInputError, match="not valid JSON"):
        load_schema(p)
    p.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="must hold a JSON object"):
        load_schema(p)
    with pytest.raises(BadInputError, match="does not exist"):
        load_schema(tmp_path / "missing.json")
    with pytest.raises(BadInputError, match="No keypoint schema named 'vehicle13'"):
        load_schema("vehicle13")


def test_check_points():
    s = load_schema("vehicle12")
    assert s.check_points(np.zeros(36)).shape == (12, 3)
    with pytest.raises(BadInputError, match="Expected 12 keypoints"):
        s.check_points(np.zeros((11, 3)))
    bad = np.zeros((12, 3))
    bad[3, 2] = 3
    with pytest.raises(BadInputError, match="Left_Back_wheel has 3"):
        s.check_points(bad)
    bad[3] = [np.nan, 0, 0]
    with pytest.raises(BadInputError, match="NaN"):
        s.check_points(bad)
