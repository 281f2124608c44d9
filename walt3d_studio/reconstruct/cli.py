"""`walt3d fit vehicles|people ...` and the reconstruction commands: each kind registers its own subcommands.

Vehicles live in `vehicle_cli.py` (`fit vehicles`, `shapes`), people in `people_cli.py` (`fit people`,
`bodies`); each module has `register_fit(fit_subparsers)` and may have `register(subparsers)`.
"""
from __future__ import annotations

import importlib

KIND_MODULES = ("walt3d_studio.reconstruct.vehicle_cli", "walt3d_studio.reconstruct.people_cli")


def register(sub) -> None:
    fit = sub.add_parser("fit", help="fit 3D vehicles or bodies to the mined tracks of a project")
    fsub = fit.add_subparsers(dest="fit_kind", required=True, metavar="KIND")
    for name in KIND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.register_fit(fsub)
        if hasattr(module, "register"):
            module.register(sub)
