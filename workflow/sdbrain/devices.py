"""The torch device of a computation: a GPU where the job was given one, else the CPU.

A job given a GPU by its scheduler (its ``gpu`` resource) says so in the environment variable
``machine.GPU_GIVEN`` (set by ``sdbrain.workflow.job``); a computation then never drifts to the CPU unnoticed when torch
cannot use that GPU. Outside a workflow job nothing is given, and 'auto' means the GPU where torch has one.
"""
from __future__ import annotations

import warnings

from sdbrain import machine
from sdbrain.errors import ArgumentError


def cuda_or_cpu(name: str, argument: str = "device", cpu: str = "cpu") -> str:
    """Resolve a device setting to 'cuda', 'cuda:k' or 'cpu'.

    Parameters
    ----------
    name : str
        'auto', 'cpu' or 'cuda[:k]'. 'auto' gives the CPU only where no GPU was given to the job; 'cpu' is
        always honoured.
    argument : str
        The caller's argument that holds ``name``, named by the error.
    cpu : str
        The value of that argument that means the CPU (the error's advice).

    Raises
    ------
    ArgumentError
        Where a GPU was given or asked for but torch cannot use CUDA (a driver older than torch's CUDA build, a
        CPU-only torch): one line with torch's reason and the driver.
    """
    import torch
    if name == "cpu":
        return "cpu"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if available:
        return "cuda" if name == "auto" else name
    if name == "auto" and not machine.gpu_given():
        return "cpu"
    asked = "the job was given a GPU (resource gpu)" if name == "auto" else f"'{name}' was requested"
    said = f"; torch says: {str(caught[0].message).splitlines()[0].strip()}" if caught else ""
    raise ArgumentError(argument, f"{asked} but torch {torch.__version__} cannot use CUDA "
                        f"(built for CUDA {torch.version.cuda or 'none: a CPU-only build'}, {machine.driver()}){said}; "
                        f"install a torch built for this driver (docs: 'Install routes') or set it to {cpu}")
