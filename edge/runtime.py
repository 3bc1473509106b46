"""TFLite interpreter wrapper: backend choice, threads, (de)quantisation.

ai-edge-litert is preferred (numpy 2, Python 3.10-3.13, x86_64 and aarch64); tflite-runtime 2.14 is the fallback
for boards stuck on numpy < 2. Each model gets one interpreter, built once, used by one worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge.native_stderr import native_stderr_to_log

log = logging.getLogger("edge.runtime")


def configure_process(num_opencv_threads: int) -> None:
    """Process-wide settings, applied once by the CLI before workers start."""
    import cv2

    if num_opencv_threads > 0:
        cv2.setNumThreads(num_opencv_threads)


class RuntimeUnavailable(RuntimeError):
    pass


def _litert() -> Callable[..., Any]:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter


def _litert_builtin() -> Callable[..., Any]:
    """ai-edge-litert without its default XNNPACK delegate: TFLite's built-in kernels, which round differently.
    Slower; for telling a platform's float differences from the pipeline's sensitivity to them (docs/platforms.md)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return partial(Interpreter, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _tflite_runtime() -> Callable[..., Any]:
    from tflite_runtime.interpreter import Interpreter

    return Interpreter


_BACKENDS: dict[str, Callable[[], Callable[..., Any]]] = {
    "litert": _litert,
    "tflite-runtime": _tflite_runtime,
    "litert-builtin": _litert_builtin,
}
_AUTO = ("litert", "tflite-runtime")


def interpreter_class(backend: str = "auto") -> tuple[str, Callable[..., Any]]:
    """Return (backend name, Interpreter class). 'auto' tries ai-edge-litert, then tflite-runtime."""
    names = list(_AUTO) if backend == "auto" else [backend]
    errors = []
    for name in names:
        if name not in _BACKENDS:
            raise RuntimeUnavailable(f"unknown runtime backend {name!r}; expected one of {sorted(_BACKENDS)}")
        try:
            return name, _BACKENDS[name]()
        except ImportError as err:
            errors.append(f"{name}: {err}")
    raise RuntimeUnavailable(
        "no TFLite runtime could be imported (" + "; ".join(errors) + "). Install ai-edge-litert "
        "(pip install ai-edge-litert), or tflite-runtime with numpy<2."
    )


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int


class Model:
    """One loaded .tflite model. `run(*inputs)` takes float arrays, quantises them when the model's inputs are
    integer, and returns float outputs (dequantised), in the model's output order."""

    def __init__(self, path: str | Path, num_threads: int = 1, backend: str = "auto"):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"model file not found: {self.path} (run `dms models fetch`)")
        self.backend, cls = interpreter_class(backend)
        with native_stderr_to_log(log, "runtime"):
            self._interp = cls(model_path=str(self.path), num_threads=num_threads)
            self._interp.allocate_tensors()
        self._inputs = self._interp.get_input_details()
        self._outputs = self._interp.get_output_details()
        self.inputs = [_spec(d) for d in self._inputs]
        self.outputs = [_spec(d) for d in self._outputs]
        self._feeds = [(d["index"], _feed(d)) for d in self._inputs]
        self._fetches = [(d["index"], _fetch(d)) for d in self._outputs]

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != len(self._inputs):
            raise ValueError(f"{self.path.name} takes {len(self._inputs)} inputs, got {len(inputs)}")
        for (index, feed), x in zip(self._feeds, inputs):
            self._interp.set_tensor(index, feed(x))
        self._interp.invoke()
        return self._results()

    def run_filled(self, fill: Callable[[np.ndarray], object]) -> list[np.ndarray]:
        """run() for a model with one float input that `fill` writes in place, into the interpreter's own buffer:
        a 192x192x3 float input is 442 KB that run() would build and then copy."""
        detail = self._inputs[0]
        if len(self._inputs) != 1 or np.dtype(detail["dtype"]).kind != "f":
            raise ValueError(f"{self.path.name}: run_filled takes a model with one float input")
        buffer = self._interp.tensor(detail["index"])()
        fill(buffer)
        del buffer  # the interpreter refuses to invoke while a view of its memory is alive
        self._interp.invoke()
        return self._results()

    def _results(self) -> list[np.ndarray]:
        return [fetch(self._interp.get_tensor(index)) for index, fetch in self._fetches]


def _spec(detail: dict[str, Any]) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        detail["name"], tuple(int(s) for s in detail["shape"]), np.dtype(detail["dtype"]).name, float(scale), int(zero)
    )


def _feed(detail: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """Float array -> this input's type, quantised when it is an integer type; chosen once per model (np.clip and
    np.iinfo cost more than the eye-state model's own run)."""
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail["quantization"]
    if dtype.kind == "f" or not scale:
        return partial(np.ascontiguousarray, dtype=dtype)
    info = np.iinfo(dtype)
    low, high = float(info.min), float(info.max)

    def quantise(x: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(np.round(x / scale + zero), low), high).astype(dtype)

    return quantise


def _fetch(detail: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """This output's values as float: get_tensor() returns a copy already, so a float output is taken as it is."""
    if np.dtype(detail["dtype"]).kind == "f":
        return _as_is
    scale, zero = detail["quantization"]
    if not scale:
        return partial(np.asarray, dtype=np.float32)
    return lambda y: (y.astype(np.float32) - zero) * scale


def _as_is(y: np.ndarray) -> np.ndarray:
    return y
