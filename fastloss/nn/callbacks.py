"""Callbacks: hooks that `Sequential.fit` calls around epochs and batches.

``fit`` calls, in this order, the callbacks it was given, then its `History`,
then a `ProgressBar` (when ``verbose`` is 1 or 2 and none was given): Keras's
order, so a callback that stops training in ``on_epoch_end`` still sees that
epoch recorded. The hooks, in the order ``fit`` calls them::

    set_model, set_params                       before anything is trained
    on_train_begin
      on_epoch_begin(epoch)
        on_batch_end(batch, logs)               after each optimizer step
      on_epoch_end(epoch, logs)                 logs has the val_ entries too
    on_train_end

``logs`` maps "loss", each metric and their "val_" twins to floats; in
``on_batch_end`` they are the running means over the epoch so far.
"""

from __future__ import annotations

import importlib
import math
import sys
import time
from typing import TYPE_CHECKING, Any, Optional, TextIO

from ._common import FloatArray

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["Callback", "EarlyStopping", "History", "ProgressBar"]

Logs = Optional[dict[str, float]]


class Callback:
    """Base class: override the hooks you need (each does nothing here).

    ``self.model`` is the model being trained and ``self.params`` a dict with
    "epochs", "steps" (per epoch), "batch_size", "samples", "verbose" and
    "metrics" (every key the logs will hold), both set before training starts.
    """

    model: Sequential | None = None
    params: dict[str, Any] = {}  # replaced by set_params, never mutated

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Called before training; may raise to refuse the run (nothing has been
        changed yet)."""
        self.params = params

    def on_train_begin(self, logs: Logs = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        pass

    def on_train_end(self, logs: Logs = None) -> None:
        pass


class History(Callback):
    """What `fit` returns: the per-epoch logs and how the time was spent.

    Attributes
    ----------
    history : dict of str to list of float
        One list per log key ("loss", each metric, "val_loss", "val_<metric>"),
        one value per epoch: the mean over the epoch's batches (weighted by batch
        size) for the training entries, over the whole validation set for val_.
    epoch : list of int
        The epochs run (0-based), as Keras.
    params : dict
        "epochs" (asked for), "steps" (per epoch), "batch_size", "samples" (in
        the training split), "verbose", "metrics" (the log keys).
    timings : dict
        "total": seconds in `fit`; "loss": seconds inside the fastloss loss
        kernels (training and validation); "steps": optimizer steps taken.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.timings: dict[str, float] = {}
        self.params = {}

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"<History: {len(self.epoch)} epochs of {keys}>"


class EarlyStopping(Callback):
    """Stop training when a monitored value has stopped improving (Keras's
    ``EarlyStopping``, same arguments and behaviour).

    Parameters
    ----------
    monitor : str, default="val_loss"
        A log key. It must be one `fit` will log (else `fit` raises before
        training, where Keras warns at every epoch).
    min_delta : float, default=0.0
        An improvement is a change beyond ``|min_delta|`` in the right direction.
    patience : int, default=0
        Epochs without improvement after which training stops.
    verbose : int, default=0
        1 prints a line when stopping and when restoring weights.
    mode : {"auto", "min", "max"}, default="auto"
        "auto" maximises accuracies and minimises everything else.
    baseline : float, optional
        Training stops if the value does not beat this within `patience` epochs.
    restore_best_weights : bool, default=False
        At the end of training, restore the weights of the best epoch (when the
        monitored value was logged at least once).
    start_from_epoch : int, default=0
        Epochs to wait before monitoring starts.

    Attributes
    ----------
    stopped_epoch : int
        The epoch training stopped at (0 if it ran to the end).
    best_epoch : int
    best : float
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log key (str), got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        for name, value in (
            ("patience", patience),
            ("start_from_epoch", start_from_epoch),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = patience
        self.verbose = verbose
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = start_from_epoch
        if mode == "auto":
            name = monitor[4:] if monitor.startswith("val_") else monitor
            mode = "max" if name.endswith(("acc", "accuracy", "auc")) else "min"
        self.mode = mode
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.best_weights: list[FloatArray] | None = None

    def set_params(self, params: dict[str, Any]) -> None:
        keys = params.get("metrics")
        if keys is not None and self.monitor not in keys:
            hint = ""
            if self.monitor.startswith("val_"):
                hint = " (val_ entries need validation_data or validation_split)"
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which this fit will not "
                f"log{hint}; it logs: {', '.join(keys)}"
            )
        super().set_params(params)

    def _better(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        assert self.model is not None
        current = (logs or {}).get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # never improved yet: the current weights are the best so far
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # restart the count only when the baseline is beaten too
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        assert self.model is not None
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


def _fmt(value: float) -> str:
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"


def _format_logs(logs: Logs) -> str:
    return " - ".join(f"{k}: {_fmt(v)}" for k, v in (logs or {}).items())


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class ProgressBar(Callback):
    """Progress output of `fit`, one bar per epoch: the step count, the ETA and
    the running loss and metrics, then the epoch's time and validation entries.

    `fit` adds one when ``verbose`` is 1 or 2 and its callbacks hold none.

    Parameters
    ----------
    verbose : {1, 2}, default=1
        1: a bar per epoch, updated every batch (tqdm when it is installed, else a
        Keras-style text bar, redrawn at most every 0.1 s on a terminal and
        printed once per epoch otherwise); 2: one line per epoch.
    use_tqdm : bool, optional
        Force (True) or refuse (False) tqdm; None uses it when importable.
    file : text stream, optional
        Where to write; default ``sys.stdout`` (looked up when training starts).
    """

    def __init__(
        self,
        verbose: int = 1,
        *,
        use_tqdm: bool | None = None,
        file: TextIO | None = None,
    ) -> None:
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self._tqdm: Any = None
        if use_tqdm is not False and verbose == 1:
            try:
                self._tqdm = importlib.import_module("tqdm").tqdm
            except ImportError:
                if use_tqdm:
                    raise
        self._file = file
        self._out: TextIO = sys.stdout
        self._bar: Any = None
        self._epoch = 0
        self._t0 = 0.0
        self._last_draw = 0.0

    def on_train_begin(self, logs: Logs = None) -> None:
        self._out = self._file if self._file is not None else sys.stdout

    def _header(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._epoch = epoch
        self._t0 = time.perf_counter()
        self._last_draw = 0.0
        if self.verbose != 1:
            return
        if self._tqdm is not None:
            self._bar = self._tqdm(
                total=self.params.get("steps"),
                desc=self._header(epoch),
                unit="step",
                file=self._out,
                leave=True,
            )
        else:
            print(self._header(epoch), file=self._out)

    def _line(self, done: int, logs: Logs, final: bool) -> str:
        steps = int(self.params.get("steps", done))
        width = 30
        filled = width * done // max(steps, 1)
        bar = (
            "=" * filled
            if done >= steps
            else "=" * filled + ">" + "." * (width - filled - 1)
        )
        elapsed = time.perf_counter() - self._t0
        if final:
            timing = (
                f"{_format_time(elapsed)} {1000 * elapsed / max(done, 1):.0f}ms/step"
            )
        else:
            timing = f"ETA: {_format_time(elapsed / max(done, 1) * (steps - done))}"
        text = f"{done:>{len(str(steps))}}/{steps} [{bar}] - {timing}"
        tail = _format_logs(logs)
        return f"{text} - {tail}" if tail else text

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.verbose != 1:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        if now - self._last_draw >= 0.1 and self._out.isatty():
            self._last_draw = now
            self._out.write("\r" + self._line(batch + 1, logs, False))
            self._out.flush()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs))
            self._bar.close()
            self._bar = None
            return
        steps = int(self.params.get("steps", 0))
        if self.verbose == 1:
            end = "\r" if self._out.isatty() else ""
            self._out.write(end + self._line(steps, logs, True) + "\n")
        else:
            elapsed = time.perf_counter() - self._t0
            self._out.write(
                f"{self._header(epoch)} - {_format_time(elapsed)} - "
                f"{_format_logs(logs)}\n"
            )
        self._out.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        if self._bar is not None:  # an epoch that did not end
            self._bar.close()
            self._bar = None
