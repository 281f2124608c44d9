"""Body estimators: how a track of person detections becomes SMPL-layout bodies on the ground plane.

Built-ins are registered in code; plug-ins come from the entry-point group ``walt3d_studio.body_estimators``
(a package declares ``hmr2 = "walt3d_hmr2:spec"``, where `spec` is an `EstimatorSpec` or a function returning
one). Listing never imports anything heavy: a spec's `check` says why it cannot run (a missing package).

Every estimator answers one question per track — `estimate_track(camera, detections, body_model)` — and
returns one shape for the track and one set of parameters per detection (DESIGN: people).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable, Protocol

from ..errors import BadInputError
from .body_types import PersonDetection, TrackEstimate  # noqa: F401 (importable from here)

GROUP = "walt3d_studio.body_estimators"


class BodyEstimator(Protocol):
    name: str

    def estimate_track(self, camera, detections: list[PersonDetection], body_model: str) -> TrackEstimate: ...


def package_missing(*modules: str) -> str | None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"package missing: {', '.join(missing)}" if missing else None


@dataclass
class EstimatorSpec:
    name: str
    description: str
    create: Callable[..., BodyEstimator]
    check: Callable[[], str | None] = lambda: None
    needs_pixels: bool = False
    origin: str = "built-in"


@dataclass(frozen=True)
class EstimatorStatus:
    name: str
    description: str
    available: bool
    reason: str
    origin: str


_BUILTINS: dict[str, EstimatorSpec] = {}
_PLUGINS: dict[str, EstimatorSpec] | None = None
_PLUGIN_ERRORS: dict[str, str] = {}
# plug-ins this project ships under plugins/: listed (as unavailable) even when not installed
KNOWN_PLUGINS = {"hmr2": ("HMR 2.0 (4D-Humans): SMPL pose and shape from the crop, placed on the ground plane",
                          "package missing: walt3d-hmr2 (pip install plugins/walt3d_hmr2) and hmr2")}


def register(spec: EstimatorSpec) -> EstimatorSpec:
    _BUILTINS[spec.name] = spec
    return spec


def _load_plugins() -> dict[str, EstimatorSpec]:
    global _PLUGINS
    if _PLUGINS is not None:
        return _PLUGINS
    from importlib.metadata import entry_points

    found: dict[str, EstimatorSpec] = {}
    for ep in entry_points(group=GROUP):
        origin = f"plugin {ep.dist.name if getattr(ep, 'dist', None) else ep.value}"
        try:
            obj = ep.load()
            spec = obj() if callable(obj) and not isinstance(obj, EstimatorSpec) else obj
            if not isinstance(spec, EstimatorSpec):
                raise TypeError(f"{ep.value} is not an EstimatorSpec")
            spec.origin = origin
            found[spec.name] = spec
        except Exception as e:  # a broken plug-in is listed as unavailable, never fatal
            _PLUGIN_ERRORS[ep.name] = f"plugin failed to load ({origin}): {type(e).__name__}: {e}"
    _PLUGINS = found
    return found


def reload_plugins() -> None:
    global _PLUGINS
    _PLUGINS = None
    _PLUGIN_ERRORS.clear()


def _all_specs() -> dict[str, EstimatorSpec]:
    _ensure_builtins()
    specs = dict(_load_plugins())
    specs.update(_BUILTINS)
    return specs


def list_estimators() -> list[EstimatorStatus]:
    """Every known estimator, whether it can run here, and why not."""
    specs = _all_specs()
    out = []
    for spec in sorted(specs.values(), key=lambda s: (s.origin != "built-in", s.name)):
        reason = spec.check() or ""
        out.append(EstimatorStatus(spec.name, spec.description, not reason, reason, spec.origin))
    for name, err in sorted(_PLUGIN_ERRORS.items()):
        out.append(EstimatorStatus(name, "(plugin)", False, err, "plugin"))
    for name, (desc, reason) in KNOWN_PLUGINS.items():
        if name not in specs and name not in _PLUGIN_ERRORS:
            out.append(EstimatorStatus(name, desc, False, reason, "plugins/"))
    return out


def create_estimator(name: str, **options) -> BodyEstimator:
    specs = _all_specs()
    if name not in specs:
        known = ", ".join(sorted(specs))
        if name in KNOWN_PLUGINS:
            raise BadInputError(f"The body estimator {name!r} is not installed ({KNOWN_PLUGINS[name][1]}).",
                                f"Install it, or use one of: {known} (see `walt3d bodies estimators`).")
        extra = f" ({_PLUGIN_ERRORS[name]})" if name in _PLUGIN_ERRORS else ""
        raise BadInputError(f"No body estimator named {name!r}{extra}.",
                            f"Known estimators: {known} (see `walt3d bodies estimators`).")
    spec = specs[name]
    reason = spec.check()
    if reason:
        raise BadInputError(f"The body estimator {name!r} cannot run here: {reason}.",
                            "Install the missing package, or use --estimator builtin.")
    return spec.create(**options)


_builtins_done = False


def _ensure_builtins() -> None:
    global _builtins_done
    if _builtins_done:
        return
    _builtins_done = True

    def builtin(**opts):
        from .body_builtin import BuiltinEstimator
        return BuiltinEstimator(**opts)

    register(EstimatorSpec(
        "builtin", "Built-in, no weights: standing or walking pose facing the direction of travel (the camera when "
        "still), feet where the box bottom's ray meets the ground, metric height from the box top, one height per "
        "track, positions smoothed along the track.", builtin))
