"""The trainer registry: our torchvision trainer built in, others (detectron2) as plug-ins through the entry-point
group ``walt3d_studio.trainers``. A plug-in's ``spec`` is a `TrainerSpec` (or a function returning one); listing
only asks whether its packages import, so a missing detectron2 costs nothing until someone picks it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import BadInputError

GROUP = "walt3d_studio.trainers"


@dataclass
class TrainerSpec:
    """`train(dataset, run_dir, settings: TrainSettings, ctx) -> TrainResult`, like `training.train.train`."""

    name: str
    description: str
    train: Callable
    check: Callable[[], str | None] = lambda: None   # why it cannot run here, or None
    origin: str = "built-in"


@dataclass(frozen=True)
class TrainerStatus:
    name: str
    description: str
    available: bool
    reason: str
    origin: str


def _builtin() -> dict[str, TrainerSpec]:
    def torchvision_train(dataset, run_dir, settings=None, ctx=None):
        from .train import train
        return train(dataset, run_dir, settings, ctx)

    from ..mining.registry import package_missing

    return {"torchvision": TrainerSpec(
        "torchvision", "Built-in: torchvision Mask R-CNN with amodal boxes and masks and a 29-slot keypoint head; "
        "CPU or CUDA (mixed precision), checkpoints and resume.", torchvision_train,
        check=lambda: package_missing("torch", "torchvision"))}


def _plugins() -> tuple[dict[str, TrainerSpec], dict[str, str]]:
    from importlib.metadata import entry_points

    found, errors = {}, {}
    for ep in entry_points(group=GROUP):
        origin = f"plugin {ep.dist.name if ep.dist else ep.value}"
        try:
            obj = ep.load()
            spec = obj() if callable(obj) and not isinstance(obj, TrainerSpec) else obj
            if not isinstance(spec, TrainerSpec):
                raise TypeError(f"{ep.value} is not a TrainerSpec")
            spec.origin = origin
            found[spec.name] = spec
        except Exception as e:  # a broken plug-in is listed as unavailable, never fatal
            errors[ep.name] = f"plugin failed to load ({origin}): {type(e).__name__}: {e}"
    return found, errors


def _specs() -> tuple[dict[str, TrainerSpec], dict[str, str]]:
    plugins, errors = _plugins()
    plugins.update(_builtin())  # built-ins win a name clash
    return plugins, errors


def list_trainers() -> list[TrainerStatus]:
    specs, errors = _specs()
    out = [TrainerStatus(s.name, s.description, not (s.check() or ""), s.check() or "", s.origin)
           for s in sorted(specs.values(), key=lambda s: (s.origin != "built-in", s.name))]
    out += [TrainerStatus(n, "(plugin)", False, e, "plugin") for n, e in sorted(errors.items())]
    return out


def get_trainer(name: str) -> TrainerSpec:
    specs, errors = _specs()
    if name not in specs:
        extra = f" ({errors[name]})" if name in errors else ""
        raise BadInputError(f"No trainer named {name!r}{extra}.",
                            f"Known trainers: {', '.join(sorted(specs))} (see `walt3d trainers`).")
    reason = specs[name].check()
    if reason:
        raise BadInputError(f"The trainer {name!r} cannot run here: {reason}.",
                            "Install the missing package, or use the built-in trainer (--trainer torchvision).")
    return specs[name]
