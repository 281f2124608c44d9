"""The detector registry: built-in backends registered in code, plugins found through the Python entry-point
group ``walt3d_studio.detectors``.

A plugin package declares, in its pyproject::

    [project.entry-points."walt3d_studio.detectors"]
    mybackend = "my_package:spec"

where ``spec`` is a `DetectorSpec` (or a function returning one). Nothing heavy is imported to list the
backends: a spec's `check` says whether its packages are importable without importing them.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from ..errors import BadInputError
from .detection import Detection, FrameInfo, RunInfo  # noqa: F401 (RunInfo: also importable from here)

GROUP = "walt3d_studio.detectors"


class Detector(Protocol):
    name: str
    needs_pixels: bool     # False: detections come from elsewhere; frames are decoded only for crops
    needs_background: bool
    thread_safe: bool      # True: `detect` may run on several frames at once

    def start(self, run: RunInfo) -> None: ...

    def detect(self, frame: np.ndarray | None, info: FrameInfo) -> list[Detection]: ...

    def close(self) -> None: ...


def package_missing(*modules: str) -> str | None:
    """A `check` helper: the reason a backend is unavailable, or None when all modules are importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"package missing: {', '.join(missing)}" if missing else None


@dataclass
class DetectorSpec:
    """How to make a detector. `create(weights=..., **options)` returns a `Detector`."""

    name: str
    description: str
    create: Callable[..., Detector]
    check: Callable[[], str | None] = lambda: None   # why it cannot run at all (missing package), or None
    needs_weights: bool = False                      # a weights file must be given (--weights)
    needs_input: bool = False                        # a detections file must be given (--import-detections)
    check_weights: Callable[[str], str | None] | None = None  # why this weights file would be refused, or None
    origin: str = "built-in"


@dataclass(frozen=True)
class DetectorStatus:
    name: str
    description: str
    available: bool
    reason: str          # why not available ("" when it is)
    origin: str          # "built-in" or the plugin's distribution / entry point
    needs_weights: bool


_BUILTINS: dict[str, DetectorSpec] = {}
_PLUGINS: dict[str, DetectorSpec] | None = None
_PLUGIN_ERRORS: dict[str, str] = {}


def register(spec: DetectorSpec) -> DetectorSpec:
    """Register a built-in (or, from tests and scripts, any) detector; a later one with the name replaces it."""
    _BUILTINS[spec.name] = spec
    return spec


def _load_plugins() -> dict[str, DetectorSpec]:
    global _PLUGINS
    if _PLUGINS is not None:
        return _PLUGINS
    from importlib.metadata import entry_points

    found: dict[str, DetectorSpec] = {}
    for ep in entry_points(group=GROUP):
        origin = f"plugin {ep.dist.name if ep.dist else ep.value}"
        try:
            obj = ep.load()
            spec = obj() if callable(obj) and not isinstance(obj, DetectorSpec) else obj
            if not isinstance(spec, DetectorSpec):
                raise TypeError(f"{ep.value} is not a DetectorSpec")
            spec.origin = origin
            found[spec.name] = spec
        except Exception as e:  # a broken plugin is listed as unavailable, never fatal
            _PLUGIN_ERRORS[ep.name] = f"plugin failed to load ({origin}): {type(e).__name__}: {e}"
    _PLUGINS = found
    return found


def reload_plugins() -> None:
    """Forget the entry points read so far (after installing a plugin, or in tests)."""
    global _PLUGINS
    _PLUGINS = None
    _PLUGIN_ERRORS.clear()


def _all_specs() -> dict[str, DetectorSpec]:
    _ensure_builtins()
    specs = dict(_load_plugins())
    specs.update(_BUILTINS)  # built-ins win a name clash
    return specs


def list_detectors(weights: str | None = None) -> list[DetectorStatus]:
    """Every known backend, whether it can run now, and why not (package missing, no weights given)."""
    out = []
    for spec in sorted(_all_specs().values(), key=lambda s: (s.origin != "built-in", s.name)):
        reason = spec.check() or ""
        if not reason and spec.needs_weights and not weights:
            reason = "needs a weights file (--weights FILE)"
        if not reason and weights and spec.check_weights is not None:  # "available" only for a file it would load
            reason = spec.check_weights(weights) or ""
        if not reason and spec.needs_input:
            reason = "needs a detections file (--import-detections FILE)"
        out.append(DetectorStatus(spec.name, spec.description, not reason, reason, spec.origin, spec.needs_weights))
    for name, err in sorted(_PLUGIN_ERRORS.items()):
        out.append(DetectorStatus(name, "(plugin)", False, err, "plugin", False))
    return out


def get_spec(name: str) -> DetectorSpec:
    specs = _all_specs()
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        extra = f" ({_PLUGIN_ERRORS[name]})" if name in _PLUGIN_ERRORS else ""
        raise BadInputError(f"No detector named {name!r}{extra}.",
                            f"Known detectors: {known} (see `walt3d detectors`).")
    return specs[name]


def create_detector(name: str, weights: str | None = None, **options) -> Detector:
    """Make a detector by name; a clear BadInputError when it cannot run."""
    spec = get_spec(name)
    reason = spec.check()
    if reason:
        raise BadInputError(f"The detector {name!r} cannot run here: {reason}.",
                            "Install the missing package, or pick another detector (`walt3d detectors`).")
    if spec.needs_weights and not weights:
        raise BadInputError(f"The detector {name!r} needs a weights file.", "Give it with --weights FILE.")
    kwargs = dict(options)
    if weights is not None:
        kwargs["weights"] = weights
    return spec.create(**kwargs)


_builtins_done = False


def _maskrcnn_weights_problem(weights: str) -> str | None:
    from .maskrcnn import load_state_dict

    try:
        load_state_dict(weights)
    except BadInputError as e:
        return e.message
    return None


def _ensure_builtins() -> None:
    global _builtins_done
    if _builtins_done:
        return
    _builtins_done = True

    def foreground(**opts):
        from .foreground import ForegroundDetector
        return ForegroundDetector(**opts)

    def maskrcnn(weights=None, **opts):
        from .maskrcnn import MaskRCNNDetector
        return MaskRCNNDetector(weights, **opts)

    def imported(path=None, **opts):
        from .imported import ImportedDetections
        if path is None:
            raise BadInputError("Importing detections needs a file.", "Give it with --import-detections FILE.")
        return ImportedDetections(path, **opts)

    register(DetectorSpec(
        "foreground", "Built-in, no weights: difference from the median background, cleaned masks, connected "
        "components; car / person / other by metric size on the ground (calibrated) or pixel size.", foreground))
    register(DetectorSpec(
        "maskrcnn", "torchvision Mask R-CNN (ResNet-50 FPN) from a local COCO-trained weights file; "
        "nothing is downloaded.", maskrcnn, check=lambda: package_missing("torch", "torchvision"),
        needs_weights=True, check_weights=_maskrcnn_weights_problem))
    register(DetectorSpec(
        "import", "Detections computed elsewhere: COCO results JSON (boxes, RLE or polygon masks, scores) or "
        "MOT txt (boxes).", imported, needs_input=True))
