"""fit's progress output as a user sees it: a real fit in a subprocess whose stdout
is a pseudo-terminal of 80, 200, 40 and 0x0 columns, a file or a pipe.

The terminal is replayed as a terminal draws it ("\\r" returns to the start of
the row and later characters overwrite earlier ones), so the assertions hold for
what stays on the screen whatever number of in-epoch redraws the timing allowed:
every epoch ends with every entry of its logs, each value as `History` has it,
and no character is ever written past the terminal's width.
"""

import io
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from fastloss.nn import Adam, Callback, Dense, ProgressBar, Sequential

pytestmark = pytest.mark.skipif(
    os.name != "posix", reason="pseudo-terminals are POSIX only"
)

EPOCHS, STEPS = 3, 10

# A fit whose epoch line is long: 4 log entries, 10 steps; the history goes to
# argv[2] so the test knows each value the output must show.
FIT = textwrap.dedent(
    f"""
    import json, sys
    import numpy as np
    from fastloss.nn import Adam, Dense, Sequential

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)
    model = Sequential([Dense(8, activation="relu"), Dense(3)])
    model.compile(
        optimizer=Adam(), loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(
        X[:100], y[:100], epochs={EPOCHS}, batch_size={100 // STEPS},
        validation_data=(X[100:], y[100:]), verbose=int(sys.argv[1]), seed=0,
    )
    with open(sys.argv[2], "w") as f:
        json.dump(hist.history, f)
    """
)

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TIMING = re.compile(r"(\d+s|\d+:\d\d(:\d\d)?) \d+(s|ms|us)/step")


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run_in_terminal(tmp_path, verbose, columns, rows):
    """stdout (and stdin) on a pseudo-terminal of `columns` x `rows`: what the
    child wrote there, and its history."""
    import fcntl
    import struct
    import termios

    script, record = tmp_path / "fit.py", tmp_path / "history.json"
    script.write_text(FIT)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    with open(tmp_path / "stderr", "wb") as err:
        child = subprocess.Popen(
            [sys.executable, str(script), str(verbose), str(record)],
            stdin=slave,
            stdout=slave,
            stderr=err,
            env=_env(),
        )
    os.close(slave)
    chunks = []
    while True:  # until the child's side closes: EIO on Linux, b"" elsewhere
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert child.wait(timeout=120) == 0, (tmp_path / "stderr").read_text()
    history = json.loads(record.read_text())
    return b"".join(chunks).decode(), history


def _run_redirected(tmp_path, verbose, how):
    script, record = tmp_path / "fit.py", tmp_path / "history.json"
    script.write_text(FIT)
    args = [sys.executable, str(script), str(verbose), str(record)]
    if how == "file":
        with open(tmp_path / "out.txt", "w") as out:
            subprocess.run(args, stdout=out, env=_env(), check=True, timeout=120)
        text = (tmp_path / "out.txt").read_text()
    else:
        done = subprocess.run(
            args, stdout=subprocess.PIPE, env=_env(), check=True, timeout=120
        )
        text = done.stdout.decode()
    return text, json.loads(record.read_text())


def _screen(raw):
    """The rows a terminal shows after `raw`, and the widest column written."""
    rows, row, col, widest = [], [], 0, 0
    for ch in _ESCAPE.sub("", raw):
        if ch == "\n":
            rows.append("".join(row).rstrip())
            row, col = [], 0
        elif ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(col - 1, 0)
        else:
            if col < len(row):
                row[col] = ch
            else:
                row.append(ch)
            col += 1
            widest = max(widest, col)
    if row:
        rows.append("".join(row).rstrip())
    return rows, widest


def _fmt(value):
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"


def _entries(history, epoch):
    return [f"{key}: {_fmt(values[epoch])}" for key, values in history.items()]


def _epochs(rows, starts):
    """Rows grouped per epoch: each group from a row that `starts` the epoch."""
    groups = []
    for row in rows:
        if starts(row):
            groups.append([])
        assert groups, f"output before the first epoch: {row!r}"
        groups[-1].append(row)
    return groups


def _items(rows):
    # continuation rows start with two spaces; rows break only between items
    return " - ".join(row.strip() for row in rows).split(" - ")


@pytest.mark.parametrize("columns", [80, 200, 40, 0])
def test_bar_on_a_terminal_ends_each_epoch_with_every_entry(tmp_path, columns):
    raw, history = _run_in_terminal(tmp_path, 1, columns, 24 if columns else 0)
    rows, widest = _screen(raw)
    width = columns or 80  # a terminal reporting 0x0 is taken as 80 columns
    # never the last column either: a full row wraps on some terminals and "\r"
    # would then redraw on the wrong row
    assert widest < width, raw
    assert all(rows), raw  # no empty line (0x0 printed nothing but "\n")
    groups = _epochs(rows, lambda row: row.startswith("Epoch "))
    assert len(groups) == EPOCHS, raw
    for epoch, (header, *final) in enumerate(groups):
        assert header == f"Epoch {epoch + 1}/{EPOCHS}"
        items = _items(final)
        assert re.fullmatch(rf"{STEPS}/{STEPS}( \[=+\])?", items[0]), final
        assert _TIMING.fullmatch(items[1]), final
        assert items[2:] == _entries(history, epoch), final
        if columns == 200:  # room for everything: one line with the full bar
            assert len(final) == 1 and f"{STEPS}/{STEPS} [{'=' * 30}] - " in final[0]


@pytest.mark.parametrize("columns", [80, 40])
def test_verbose_2_on_a_terminal_wraps_its_line_between_entries(tmp_path, columns):
    raw, history = _run_in_terminal(tmp_path, 2, columns, 24)
    rows, widest = _screen(raw)
    assert widest < columns and "\r" not in raw.replace("\r\n", ""), raw
    groups = _epochs(rows, lambda row: row.startswith("Epoch "))
    assert len(groups) == EPOCHS, raw
    for epoch, final in enumerate(groups):
        assert len(final) > 1  # the line does not fit: wrapped, not cut
        items = _items(final)
        assert items[:2] == [f"Epoch {epoch + 1}/{EPOCHS}", f"{STEPS}/{STEPS}"]
        assert _TIMING.fullmatch(items[2]), final
        assert items[3:] == _entries(history, epoch), final


@pytest.mark.parametrize("how", ["file", "pipe"])
@pytest.mark.parametrize("verbose", [1, 2])
def test_redirected_output_is_one_plain_line_per_epoch(tmp_path, verbose, how):
    text, history = _run_redirected(tmp_path, verbose, how)
    assert "\r" not in text and "\b" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == EPOCHS and text.endswith("\n"), text
    for epoch, line in enumerate(lines):
        items = line.split(" - ")
        assert items[:2] == [f"Epoch {epoch + 1}/{EPOCHS}", f"{STEPS}/{STEPS}"]
        assert _TIMING.fullmatch(items[2]), line
        assert items[3:] == _entries(history, epoch), line
        assert "[" not in line  # no bar


# ---- in process: the stream's own width, $COLUMNS, the old tqdm switch --------------


class _Terminal(io.StringIO):
    """A terminal with no file descriptor (its width cannot be asked)."""

    def isatty(self):
        return True


def _fit(stream, rng, epochs=2):
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 3, 60)
    model = Sequential([Dense(8, activation="relu"), Dense(3)])
    model.compile(
        optimizer=Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    bar = ProgressBar(file=stream)
    return model.fit(
        X,
        y,
        epochs=epochs,
        batch_size=10,
        validation_split=0.2,
        seed=0,
        callbacks=[bar],
    )


@pytest.mark.parametrize("columns", [None, "50", "0", "wide"])
def test_columns_come_from_the_environment_else_80(rng, monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    term = _Terminal()
    hist = _fit(term, rng)
    rows, widest = _screen(term.getvalue())
    assert widest < (50 if columns == "50" else 80)
    groups = _epochs(rows, lambda row: row.startswith("Epoch "))
    for epoch, (_, *final) in enumerate(groups):
        assert _items(final)[2:] == _entries(hist.history, epoch)


def test_a_stream_without_isatty_gets_plain_lines(rng):
    class Bare:  # the least a stream offers: write and flush
        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)

        def flush(self):
            pass

    out = Bare()
    hist = _fit(out, rng)
    lines = "".join(out.parts).splitlines()
    assert len(lines) == 2
    assert lines[1].split(" - ")[3:] == _entries(hist.history, 1)


def test_use_tqdm_is_ignored_and_true_warns():
    with pytest.warns(DeprecationWarning, match="tqdm"):
        ProgressBar(use_tqdm=True)
    assert ProgressBar(use_tqdm=False).verbose == 1


def test_values_too_small_for_four_decimals_keep_their_digits():
    logs = {"loss": 2.5e-5, "mse": 0.0, "val_loss": -1.25}
    out = io.StringIO()
    bar = ProgressBar(verbose=2, file=out)
    bar.set_params({"epochs": 1, "steps": 1})
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    bar.on_batch_end(0, logs)
    bar.on_epoch_end(0, logs)
    line = out.getvalue()
    assert line.endswith(" - loss: 2.5000e-05 - mse: 0.0000 - val_loss: -1.2500\n")


def test_an_epoch_stopped_early_shows_the_steps_it_ran(rng):
    class StopAtThree(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    X, y = rng.standard_normal((100, 4)), rng.integers(0, 3, 100)
    model = Sequential([Dense(3)])
    model.compile(optimizer=Adam(), loss="sparse_categorical_crossentropy")
    out = io.StringIO()
    model.fit(
        X, y, epochs=2, batch_size=10, callbacks=[StopAtThree(), ProgressBar(file=out)]
    )
    assert out.getvalue().startswith("Epoch 1/2 - 3/10 - ")
    assert out.getvalue().count("\n") == 1
