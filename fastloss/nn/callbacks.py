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

import math
import os
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any, Optional, TextIO

from ._common import FloatArray

if TYPE_CHECKING:
    from .model import Sequential

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
]

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

    # evaluate(callbacks=) and predict(callbacks=), as Keras: begin, then end with
    # the results (evaluate's logs) or nothing (predict)
    def on_test_begin(self, logs: Logs = None) -> None:
        pass

    def on_test_end(self, logs: Logs = None) -> None:
        pass

    def on_predict_begin(self, logs: Logs = None) -> None:
        pass

    def on_predict_end(self, logs: Logs = None) -> None:
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
        self.mode = _mode(mode, monitor)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.best_weights: list[FloatArray] | None = None

    def set_params(self, params: dict[str, Any]) -> None:
        _check_monitor(self, params)
        super().set_params(params)

    def _better(self, value: float, reference: float) -> bool:
        return _better(self.mode, self.min_delta, value, reference)

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


def _mode(mode: str, monitor: str) -> str:
    """Keras's "auto" mode: maximise accuracies and AUCs, minimise the rest."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if name.endswith(("acc", "accuracy", "auc")) else "min"


def _better(mode: str, min_delta: float, value: float, reference: float) -> bool:
    if mode == "min":
        return value + min_delta < reference
    return value - min_delta > reference


def _check_monitor(cb: Any, params: dict[str, Any]) -> None:
    """A monitored key this fit will not log is an error before training (Keras
    warns at every epoch instead)."""
    keys = params.get("metrics")
    if keys is not None and cb.monitor not in keys:
        hint = ""
        if cb.monitor.startswith("val_"):
            hint = " (val_ entries need validation_data or validation_split)"
        raise ValueError(
            f"{type(cb).__name__} monitors {cb.monitor!r}, which this fit will not "
            f"log{hint}; it logs: {', '.join(keys)}"
        )


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when it improves (Keras's
    ``ModelCheckpoint``).

    Parameters
    ----------
    filepath : str or os.PathLike
        Where to save; may hold ``{epoch}`` (1-based, as Keras) and log keys as
        format fields, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.npz"``. Written
        with `fastloss.nn.Sequential.save`'s ``.npz`` format, also under a
        ``.keras``, ``.h5`` or ``.weights.h5`` name (one `UserWarning` per
        `fit` says so): read it back with `fastloss.nn.load` or
        ``model.load_weights``.
    monitor : str, default="val_loss"
        The log key `save_best_only` compares; it must be one `fit` logs.
    verbose : int, default=0
        1 prints a line on each save.
    save_best_only : bool, default=False
        Save only when `monitor` beats its best so far.
    save_weights_only : bool, default=False
        Accepted; the file holds the whole model either way (its weights are
        what ``load_weights`` reads).
    mode : {"auto", "min", "max"}, default="auto"
    save_freq : "epoch"
        Only "epoch" is supported.
    initial_value_threshold : float, optional
        With `save_best_only`, the value to beat first.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        self.filepath = os.fspath(filepath)
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log key (str), got {monitor!r}")
        if save_freq != "epoch":
            raise ValueError(
                f"ModelCheckpoint(save_freq={save_freq!r}) is not supported: only "
                "'epoch'"
            )
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _mode(mode, monitor)
        self.initial_value_threshold = initial_value_threshold
        self.best = self._start()

    def _start(self) -> float:
        if self.initial_value_threshold is not None:
            return float(self.initial_value_threshold)
        return math.inf if self.mode == "min" else -math.inf

    def set_params(self, params: dict[str, Any]) -> None:
        if self.save_best_only:
            _check_monitor(self, params)
        super().set_params(params)

    def on_train_begin(self, logs: Logs = None) -> None:
        from .io import keras_suffix_warning

        self.best = self._start()
        message = keras_suffix_warning(self.filepath)
        if message:
            warnings.warn(message, UserWarning, stacklevel=2)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        from .io import save_model

        assert self.model is not None
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None or not _better(self.mode, 0.0, current, self.best):
                return
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from "
                    f"{self.best:.5f} to {current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        save_model(self.model, path)


class ReduceLROnPlateau(Callback):
    """Divide the learning rate when a monitored value stops improving (Keras's
    ``ReduceLROnPlateau``, same arguments and behaviour).

    Parameters
    ----------
    monitor : str, default="val_loss"
        A log key `fit` will log.
    factor : float in (0, 1), default=0.1
        The new rate is ``rate * factor``.
    patience : int, default=10
        Epochs without improvement before the rate is reduced.
    verbose : int, default=0
        1 prints a line on each reduction.
    mode : {"auto", "min", "max"}, default="auto"
    min_delta : float, default=1e-4
        An improvement is a change beyond it in the right direction.
    cooldown : int, default=0
        Epochs to wait after a reduction before counting again.
    min_lr : float, default=0.0
        The rate is never reduced below it.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log key (str), got {monitor!r}")
        if not 0.0 < float(factor) < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if not float(min_lr) >= 0.0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr!r}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.mode = _mode(mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def set_params(self, params: dict[str, Any]) -> None:
        _check_monitor(self, params)
        super().set_params(params)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        assert self.model is not None and self.model.optimizer is not None
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _better(self.mode, self.min_delta, current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = self.model.optimizer
                old = optimizer.learning_rate
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(
                            f"Epoch {epoch + 1}: ReduceLROnPlateau reducing "
                            f"learning rate to {new}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


def _fmt(value: float) -> str:
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _format_step(seconds: float) -> str:
    # a unit that keeps two or three digits: "0ms/step" says nothing
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _columns(stream: TextIO) -> int:
    """The width of the terminal behind `stream`.

    $COLUMNS first, as `shutil.get_terminal_size` does, then the size of the
    stream's own file descriptor (shutil only asks ``sys.__stdout__``). 80 when
    neither gives a positive width: a pseudo-terminal whose size was never set
    reports 0x0, and a stream may have no descriptor at all.
    """
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
    return columns if columns > 0 else 80


def _wrap(items: list[str], width: int, indent: str = "") -> list[str]:
    """`items` joined by " - " into lines of at most `width` characters, broken
    only between items (never inside a name or a number); the first line starts
    with `indent`, the others with two spaces. An item wider than `width` gets a
    line of its own, which the terminal wraps: a number is never cut."""
    lines: list[str] = []
    line = indent + items[0]
    for item in items[1:]:
        if len(line) + 3 + len(item) <= width:
            line += " - " + item
        else:
            lines.append(line)
            line = "  " + item
    lines.append(line)
    return lines


def _split_lines(first: list[str], entries: list[str], width: int) -> list[str]:
    """`first` and the training `entries` from the first line on, the "val_"
    entries from a line of their own: the layout when one line is too narrow."""
    train = [e for e in entries if not e.startswith("val_")]
    val = [e for e in entries if e.startswith("val_")]
    lines = _wrap(first + train, width)
    return lines + (_wrap(val, width, "  ") if val else [])


_BAR_WIDTH = 30  # Keras 2's bar; it shrinks to what the terminal leaves
_MIN_BAR = 10  # a narrower bar says little: drop it and keep the numbers
_REDRAW = 0.1  # seconds between in-epoch redraws on a terminal


class ProgressBar(Callback):
    """Progress output of `fit`, as Keras prints it: per epoch, the step count,
    the time and every loss and metric, training and validation.

    `fit` adds one when ``verbose`` is 1 or 2 and its callbacks hold none.

    On a terminal (``file.isatty()``), ``verbose=1`` prints an "Epoch i/n" line,
    then a bar redrawn in place (at most every 0.1 s) with the ETA and the running
    loss and metrics, fitted to the terminal's width (``$COLUMNS``, else the
    stream's own terminal size, else 80 columns): the bar shrinks or goes first,
    then, within the epoch only, the last metrics. The epoch ends with every entry
    and the time taken; when one line is too narrow for them, the training entries
    stay on it (with a bar if there is room) and the "val_" entries go below,
    lines breaking only between entries: a name or a number is never cut.

    Anywhere else (a file, a pipe, a notebook's output), and always with
    ``verbose=2``, each epoch prints one plain line at its end, with no bar and
    no carriage return (on a terminal, wrapped as above when it is too wide)::

        Epoch 1/3 - 10/10 - 0s 2ms/step - loss: 1.2199 - val_loss: 1.3904

    Parameters
    ----------
    verbose : {1, 2}, default=1
        1: a bar per epoch on a terminal, a line per epoch elsewhere; 2: a line
        per epoch.
    use_tqdm : bool, optional
        Ignored; kept so older calls still run (True warns). tqdm is no longer
        used: it cut the metrics at the terminal's width, printed empty lines on
        a terminal reporting 0 columns and wrote each epoch three times to files.
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
        if use_tqdm:
            warnings.warn(
                "ProgressBar(use_tqdm=True) is ignored: the bar no longer uses tqdm",
                DeprecationWarning,
                stacklevel=2,
            )
        self.verbose = verbose
        self._file = file
        self._out: TextIO = sys.stdout
        self._live = False  # a bar redrawn in place, else a line per epoch
        self._epoch = 0
        self._done = 0  # steps finished in this epoch
        self._t0 = 0.0
        self._last_draw = -math.inf
        self._drawn = 0  # characters of the bar now on the terminal's line

    def on_train_begin(self, logs: Logs = None) -> None:
        self._out = self._file if self._file is not None else sys.stdout
        self._live = self.verbose == 1 and _is_terminal(self._out)
        self._drawn = 0

    def _header(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"

    def _steps(self) -> int:
        return int(self.params.get("steps", self._done))

    def _count(self, done: int, align: bool = True) -> str:
        # aligned, so the bar does not move as the count gains digits
        steps = self._steps()
        return f"{done:>{len(str(steps)) if align else 0}}/{steps}"

    def _bar(self, done: int, width: int) -> str:
        steps = max(self._steps(), 1)
        filled = width * min(done, steps) // steps
        if done >= steps:
            return "[" + "=" * width + "]"
        return "[" + "=" * filled + ">" + "." * (width - filled - 1) + "]"

    def _timing(self, done: int, final: bool) -> str:
        elapsed = time.perf_counter() - self._t0
        if final:
            return f"{_format_time(elapsed)} {_format_step(elapsed / max(done, 1))}"
        left = elapsed / max(done, 1) * max(self._steps() - done, 0)
        return f"ETA: {_format_time(left)}"

    def _with_bar(self, done: int, rest: list[str], width: int) -> list[str] | None:
        """The items with the count and a bar as wide as `width` leaves (at most
        `_BAR_WIDTH`), or None when no bar of `_MIN_BAR` fits."""
        count = self._count(done)
        room = width - len(" - ".join([count, *rest])) - 3  # " [" and "]"
        if room < _MIN_BAR:
            return None
        return [f"{count} {self._bar(done, min(room, _BAR_WIDTH))}", *rest]

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _redraw(self, text: str, end: str) -> None:
        """Overwrite the bar's line with `text` (blanking what it leaves)."""
        pad = " " * max(self._drawn - len(text), 0)
        self._write("\r" + text + pad + end)
        self._drawn = 0 if end else len(text)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._epoch = epoch
        self._done = 0
        self._t0 = time.perf_counter()
        self._last_draw = -math.inf
        if self._live:
            self._write(self._header(epoch) + "\n")

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._done = batch + 1
        if not self._live:
            return
        now = time.perf_counter()
        if now - self._last_draw < _REDRAW or self._done >= self._steps():
            return  # the epoch's end draws the last state
        self._last_draw = now
        # keep the last column free: a line that fills it wraps on some
        # terminals, and "\r" then returns to the wrong line
        width = _columns(self._out) - 1
        done = self._done
        metrics = [f"{k}: {_fmt(v)}" for k, v in (logs or {}).items()]
        head = [self._count(done), self._timing(done, final=False)]
        while True:
            items = self._with_bar(done, head[1:] + metrics, width)
            if items is None:
                items = head + metrics
            text = " - ".join(items)
            if len(text) <= width or not metrics:
                break
            metrics.pop()  # only in-epoch: the epoch's last line shows them all
        self._redraw(text[:width], "")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        done = self._done
        timing = self._timing(done, final=True)
        entries = [f"{k}: {_fmt(v)}" for k, v in (logs or {}).items()]
        if not self._live:
            first = [self._header(epoch), self._count(done, False), timing]
            lines = [" - ".join(first + entries)]
            if self.verbose == 2 and _is_terminal(self._out):
                width = _columns(self._out) - 1
                if len(lines[0]) > width:
                    lines = _split_lines(first, entries, width)
            self._write("\n".join(lines) + "\n")
            return
        width = _columns(self._out) - 1
        items = self._with_bar(done, [timing, *entries], width)
        if items is not None:
            lines = [" - ".join(items)]
        else:  # too narrow: the bar only if the training entries leave room
            train = [e for e in entries if not e.startswith("val_")]
            with_bar = self._with_bar(done, [timing, *train], width)
            first = [self._count(done), timing] if with_bar is None else with_bar[:2]
            lines = _split_lines(first, entries, width)
        self._redraw(lines[0], "\n")
        if lines[1:]:
            self._write("\n".join(lines[1:]) + "\n")

    def on_train_end(self, logs: Logs = None) -> None:
        if self._drawn:  # a bar left mid-line by an epoch that did not end
            self._write("\n")
            self._drawn = 0
