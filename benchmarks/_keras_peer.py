"""The Keras 3 peer of ``trainer_bench.py``, run in a child process of its own.

XLA sizes its CPU thread pools from ``PJRT_NPROC`` when JAX creates its CPU
client, and Keras picks its backend from ``KERAS_BACKEND`` when it is first
imported; ``trainer_bench.keras_env()`` sets both (and ``JAX_PLATFORMS=cpu``) in
this process's environment, so nothing here depends on what the parent imported.

    python benchmarks/_keras_peer.py --probe         # what would run; exit 1 if not
    python benchmarks/_keras_peer.py DATA.npz RESULT.json --hidden 256,256 \\
        --epochs 30 --seed 0

``DATA.npz`` holds ``x_train``, ``y_train``, ``x_test``, ``y_test`` (a
``trainer_bench.Data``); ``RESULT.json`` receives the epoch times, the test
accuracy and the extras of a ``trainer_bench.Result``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np
from trainer_bench import BATCH_SIZE, BETAS, EPSILON, LEARNING_RATE, Data


def _xla_pool_threads() -> int | None:
    """Threads of XLA's intra-op (Eigen) pool in this process; None off Linux."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    count = 0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                count += f.read().strip().endswith("XLAEigen")
        except OSError:
            pass
    return count


def _keras() -> Any:
    import jax
    import keras

    if keras.backend.backend() != "jax":
        raise RuntimeError(f"keras is on the {keras.backend.backend()} backend")
    jax.numpy.zeros(1).block_until_ready()  # creates the CPU client and its pools
    return keras


def probe() -> str:
    """One line on what the peer runs: versions, devices, XLA's thread pool."""
    import jax
    import jaxlib

    keras = _keras()
    return (
        f"keras {keras.__version__} on jax {jax.__version__} (jaxlib"
        f" {jaxlib.__version__}), devices {[str(d) for d in jax.devices()]},"
        f" PJRT_NPROC={os.environ.get('PJRT_NPROC', '(unset)')},"
        f" XLA intra-op pool {_xla_pool_threads()} threads"
    )


def train(data: Data, hidden: list[int], epochs: int, seed: int) -> dict[str, Any]:
    import jax

    keras = _keras()

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._t0 = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            # fit has read the epoch's loss already, which waits for its last
            # step; waiting on the weights as well costs nothing and says so
            jax.block_until_ready([v.value for v in self.model.variables])
            self.seconds.append(time.perf_counter() - self._t0)

    keras.utils.set_random_seed(seed)  # initial weights and the shuffles
    layers = [keras.layers.Dense(h, activation="relu") for h in hidden]
    model = keras.Sequential(
        [
            keras.Input((data.x_train.shape[1],)),
            *layers,
            keras.layers.Dense(data.n_classes),  # glorot_uniform, zero bias
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=LEARNING_RATE,
            beta_1=BETAS[0],
            beta_2=BETAS[1],
            epsilon=EPSILON,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )  # jit_compile="auto", the default: XLA on the JAX backend
    timer = EpochTimer()
    model.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        shuffle=True,
        callbacks=[timer],
        verbose=0,
    )
    pred = model.predict(data.x_test, batch_size=1024, verbose=0).argmax(axis=1)
    if model.variables[0].dtype != "float32":
        raise RuntimeError(f"keras trained in {model.variables[0].dtype}")
    return {
        "epoch_seconds": timer.seconds,
        "accuracy": float(np.mean(pred == data.y_test)),
        "extra": {
            "jit_compile": float(bool(model.jit_compile)),
            "xla_pool_threads": float(_xla_pool_threads() or 0),
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--probe", action="store_true")
    p.add_argument("data", nargs="?")
    p.add_argument("result", nargs="?")
    p.add_argument("--hidden", default="")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.probe:
        print(probe())
        return 0
    if args.data is None or args.result is None:
        p.error("DATA.npz and RESULT.json are required without --probe")
    with np.load(args.data) as arrays:
        data = Data(**{k: arrays[k] for k in arrays.files})
    hidden = [int(h) for h in args.hidden.split(",") if h]
    result = train(data, hidden, args.epochs, args.seed)
    with open(args.result, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
