"""The calibration tool is readable beside the review panel: its instructions are laid out in full, only drawn
segments carry a label (none piled up at the frame's corner), labels grow with the zoom (never tiny), and lines
undo one by one while the tool is open."""
from __future__ import annotations

from PySide6.QtCore import Qt

from .test_review_workflow import demo, key, review, template  # noqa: F401  (fixtures)


def test_instructions_in_full_and_labels_only_for_drawn_segments(qtbot, review):
    w, _ = review
    w.start_calibration_tool()
    tool = w.calibration_tool
    qtbot.wait(50)
    help_ = tool.instructions
    assert help_.isVisible()
    assert help_.height() >= help_.heightForWidth(help_.width()), (help_.height(), help_.width())
    assert help_.visibleRegion().boundingRect().height() >= help_.heightForWidth(help_.width())
    # nothing drawn yet: no label anywhere on the frame
    assert not any(label.isVisible() for _, label in tool.items.values())
    tool.set_segment("A1", ((100, 200), (200, 120)))
    labels = {n: lab for n, (_, lab) in tool.items.items()}
    assert labels["A1"].isVisible() and not labels["A2"].isVisible() and not labels["ref"].isVisible()
    # the label sits by its segment, not at the frame's corner
    assert abs(labels["A1"].pos().x() - 150) < 60 and abs(labels["A1"].pos().y() - 160) < 60


def test_labels_scale_with_the_view(qtbot, review):
    w, _ = review
    w.start_calibration_tool()
    tool = w.calibration_tool
    tool.set_segment("A1", ((100, 200), (200, 120)))
    label = tool.items["A1"][1]
    w.frame_view.fit()
    qtbot.wait(50)
    small = label.textItem.font().pointSizeF()
    assert small >= 11  # readable when the whole frame is shown
    w.frame_view.vb.scaleBy((0.25, 0.25))  # zoom in 4x
    qtbot.wait(50)
    assert label.textItem.font().pointSizeF() > small * 1.3


def test_lines_undo_one_by_one_inside_the_tool(qtbot, review, monkeypatch):
    from walt3d_studio.gui import tools

    w, rc = review
    rc.select_track(3)
    assert rc.label_track("U")
    index = w.undo_stack.index()
    w.start_calibration_tool()
    tool = w.calibration_tool
    tool.draw_segment("A1", ((100, 200), (200, 120)))
    tool.draw_segment("A2", ((100, 250), (220, 150)))
    key(qtbot, w.frame_view, Qt.Key_Z, Qt.ControlModifier)
    assert tool.segments["A2"] is None and tool.segments["A1"] is not None and w.undo_stack.index() == index
    assert tool.current == "A2"
    monkeypatch.setattr(tools, "ask_unsaved", lambda parent, what: tools.DISCARD)
    key(qtbot, w.frame_view, Qt.Key_Escape)
    assert not tool.isVisible() and w.frame_view.vb.tool is None
