"""An ONNX model file: loaded once, checked against the features it will get, reloaded on change.

Every method here blocks (file I/O, onnxruntime), so the model sensor calls them through
the hub's executor.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from hub.exceptions import HubError

SHIPPED = Path(__file__).resolve().parent / "models"
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


class ModelError(HubError):
    """A model file is missing, unreadable, or does not fit its configuration."""


def resolve(name: str, config_dir: Path | None) -> tuple[Path, list[Path]]:
    """Return the model file to use and every place looked at (for the error when none exists).

    A relative name is looked up in the config dir first, then among the shipped models.
    """
    path = Path(name).expanduser()
    if path.is_absolute():
        return path, [path]
    candidates = [config_dir / path] if config_dir is not None else []
    candidates.append(SHIPPED / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate, candidates
    return candidates[0], candidates


def _shape(dims: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "?" for d in dims) + "]"


class OnnxModel:
    """One model file and its onnxruntime session.

    Args:
        path: the .onnx file.
        features: how many numbers the configuration feeds the model.
        layout: the configured features in words, for errors (`60 raw + 2 time_of_day`).
        outputs: output names the configuration reads (checked at load).
        searched: every place the file was looked for, named when it is missing.
    """

    def __init__(
        self,
        path: Path,
        features: int,
        layout: str,
        outputs: Sequence[str] = (),
        searched: Sequence[Path] = (),
    ) -> None:
        self.path = path
        self.features = features
        self.layout = layout
        self.wanted_outputs = list(outputs)
        self.searched = list(searched) or [path]
        self.input_name = ""
        self.output_names: list[str] = []
        self.loads = 0
        self._dtype: Any = np.float32
        self._rank = 2
        self._session: ort.InferenceSession | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def ensure_loaded(self) -> bool:
        """Load the file, or load it again when it changed; return whether it was (re)loaded.

        Raises:
            ModelError: the file is missing or invalid, or its input does not fit the features.
        """
        with self._lock:
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                self._session, self._stamp = None, None
                looked = " and ".join(str(p) for p in self.searched)
                raise ModelError(f"Model file {self.path.name} not found (looked for {looked})") from None
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp and self._session is not None:
                return False
            # Forget the old session first: a broken new file must not leave a stale model running.
            self._session, self._stamp = None, stamp
            self._session = self._load()
            self.loads += 1
            return True

    def _load(self) -> ort.InferenceSession:
        options = ort.SessionOptions()
        # One thread per inference: the hub runs many small models, not one big one.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"Model file {self.path} is not a valid ONNX model: {err}") from err
        self._check(session)
        return session

    def _check(self, session: ort.InferenceSession) -> None:
        inputs = session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise ModelError(f"Model {self.path} has {len(inputs)} inputs ({names}); a model sensor feeds exactly one")
        model_input = inputs[0]
        dims = list(model_input.shape)
        expected = f"{_shape(dims)} ({model_input.type})"
        given = f"[1, {self.features}] ({self.layout})"
        dtype = _DTYPES.get(model_input.type)
        if dtype is None:
            raise ModelError(
                f"Model {self.path} input '{model_input.name}' expects {expected}; "
                "a model sensor feeds tensor(float) or tensor(double)"
            )
        width = dims[-1] if dims else None
        batch_ok = len(dims) == 1 or (len(dims) == 2 and (not isinstance(dims[0], int) or dims[0] == 1))
        if not batch_ok or (isinstance(width, int) and width != self.features):
            raise ModelError(
                f"Model {self.path} input '{model_input.name}' expects shape {expected}, "
                f"the configuration gives {given}"
            )
        outputs = [o.name for o in session.get_outputs()]
        missing = [name for name in self.wanted_outputs if name not in outputs]
        if missing:
            raise ModelError(
                f"Model {self.path} has no output {missing[0]!r}; its outputs are {', '.join(outputs)}"
            )
        self.input_name, self.output_names = model_input.name, outputs
        self._dtype, self._rank = dtype, len(dims)

    def infer(self, vector: np.ndarray) -> dict[str, Any]:
        """Run the model on one feature vector; return each output's value (a float or a list).

        Reloads the file first when it changed since the last call.

        Raises:
            ModelError: the file cannot be loaded, or the model failed on this input.
        """
        self.ensure_loaded()
        session = self._session
        assert session is not None  # ensure_loaded raised otherwise
        batch = vector.astype(self._dtype, copy=False)
        if self._rank == 2:
            batch = batch.reshape(1, -1)
        try:
            results = session.run(None, {self.input_name: batch})
        except Exception as err:  # onnxruntime's errors carry no common base class
            raise ModelError(f"Model {self.path} failed: {err}") from err
        return {name: _plain(value) for name, value in zip(self.output_names, results, strict=True)}


def _plain(value: Any) -> Any:
    """Return a tensor's only number as a float, several as a list, anything else as it is."""
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        if flat.size == 1:
            return flat[0].item()
        return flat.tolist()
    return value
