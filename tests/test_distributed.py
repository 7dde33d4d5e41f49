"""Data parallelism with fastloss.torch: two real processes (torch.distributed,
gloo on 127.0.0.1) give the single-process result on the whole batch.

Each rank computes its shard's cross-entropy with ``reduction="sum"`` (class
weights, ignored targets), then the loss sums, the normalisers ``D`` and the
gradients are all-reduced and divided by the global ``D``: the loss and gradients
equal ``F.cross_entropy(..., reduction="mean")`` on the whole batch, computed in
this (parent) process by PyTorch itself. The same recipe under
DistributedDataParallel trains to the single-process parameters. The naive mean of
the shard means is computed too, to show it differs (so the test can fail).

The workers are this file run as a script (``python test_distributed.py --worker
...``); every wait has a deadline, and a worker that hangs or fails is killed and
reported with its output.
"""

import faulthandler
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover - CPU wheels have it
    pytest.skip("torch.distributed is not available", allow_module_level=True)
F = torch.nn.functional

import fastloss  # noqa: E402
import fastloss.torch as flt  # noqa: E402

WORLD = 2
SHARDS = [(0, 10), (10, 24)]  # unequal on purpose: rows [start, stop) per rank
N_FEATURES, N_CLASSES = 5, 4
IGNORE = -100
STEPS, LR = 4, 0.5
DEADLINE = 90.0  # seconds for the whole launch: a hang fails, never blocks CI
TEARDOWN_GRACE = 20.0  # seconds a rank may spend in gloo's final teardown
DOC = Path(__file__).resolve().parents[1] / "docs" / "torch.md"


# --------------------------------------------------------------------------------
# the problem and the normaliser
# --------------------------------------------------------------------------------


def make_problem(path):
    rng = np.random.default_rng(20240607)
    n = SHARDS[-1][1]
    x = rng.standard_normal((n, N_FEATURES))
    target = rng.integers(0, N_CLASSES, n)
    # Rank 0's shard is mostly padding, rank 1's barely: their shard means then
    # weigh very different numbers of tokens, which the naive mean gets wrong.
    target[[0, 1, 3, 4, 6, 8]] = IGNORE
    target[15] = IGNORE
    np.savez(
        path,
        x=x,
        target=target,
        weight=rng.uniform(0.3, 3.0, N_CLASSES),
        w0=0.5 * rng.standard_normal((N_CLASSES, N_FEATURES)),
        b0=0.1 * rng.standard_normal(N_CLASSES),
    )


def plain_normalizer(target, weight, ignore_index=IGNORE):
    """What "mean" divides by: the class weights of the targets not ignored."""
    t = np.asarray(target)
    kept = t != ignore_index
    return float(np.sum(np.asarray(weight)[t[kept]]))


def normalizer(target, weight):
    """fastloss's helper when this fastloss has it, else the plain formula."""
    if hasattr(fastloss, "cross_entropy_normalizer"):
        return float(
            fastloss.cross_entropy_normalizer(
                target, class_weight=weight, ignore_index=IGNORE
            )
        ), "fastloss.cross_entropy_normalizer"
    return plain_normalizer(target, weight), "plain"


def linear(w0, b0):
    model = torch.nn.Linear(N_FEATURES, N_CLASSES).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w0))
        model.bias.copy_(torch.from_numpy(b0))
    return model


# --------------------------------------------------------------------------------
# the worker (one per rank, in its own process)
# --------------------------------------------------------------------------------


def worker(rank, port, data_path, out_path, doc_port):
    # A hang prints every thread's stack to the log before the launcher kills us.
    faulthandler.dump_traceback_later(DEADLINE - 15, exit=False)
    torch.set_num_threads(1)
    dist = torch.distributed
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=timedelta(seconds=30),
    )
    data = np.load(data_path)
    try:
        _work(rank, dist, data, out_path)
        docs = _docs(lambda ns: _doc_step(rank, ns["step"], data, out_path))
    finally:
        dist.destroy_process_group()
    # The complete program of docs/torch.md, in these same processes (torch and
    # DDP are imported already): its train() makes its own process group.
    # gloo's teardown in torch 2.13 can hang a rank after the last collective (seen
    # in CI with every step done): run the program in a thread, give its teardown
    # 30 s, and leave with os._exit below rather than wait on it.
    # A marker just before the docs program's teardown: a rank that hangs after it
    # has done every step and the final barrier, and the launcher may end it.
    real_destroy = dist.destroy_process_group

    def destroy(*args, **kwargs):
        out_path.with_suffix(f".teardown{rank}").touch()
        return real_destroy(*args, **kwargs)

    dist.destroy_process_group = destroy
    runner = threading.Thread(
        target=_docs,
        args=(lambda ns: ns["train"](rank, WORLD, doc_port), docs),
        daemon=True,
    )
    runner.start()
    runner.join(timeout=30)
    # Rank 0 hosts the TCP stores: if it exits while another rank is still tearing
    # its process group down, that rank can wait on the dead store (seen once in
    # CI: rank 0 done, rank 1 hung). So rank 0 leaves last.
    out_path.with_suffix(f".done{rank}").touch()
    if rank == 0:
        end = time.monotonic() + 60
        while time.monotonic() < end and not all(
            out_path.with_name(out_path.name.replace("rank0", f"rank{r}"))
            .with_suffix(f".done{r}")
            .exists()
            for r in range(WORLD)
        ):
            time.sleep(0.05)
    sys.stdout.flush()
    os._exit(0)


def _docs(action, namespace=None):
    """Run action(namespace of the docs/torch.md code) unless the docs are not
    next to the tests; a failure is printed to the log, for test_docs_* to
    report, and does not stop the worker."""
    if not DOC.exists():
        return None
    try:
        if namespace is None:
            namespace = {"__name__": "docs_torch"}  # not "__main__": no mp.spawn
            blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
            for block in blocks:
                if "def step(" in block or "def train(" in block:
                    exec(compile(block, str(DOC), "exec"), namespace)
        action(namespace)
    except Exception:
        traceback.print_exc()
        print("the docs/torch.md code failed", flush=True)
    return namespace


def _doc_step(rank, step, data, out_path):
    """One optimiser step of the docs' all_reduce recipe on this rank's shard."""
    start, stop = SHARDS[rank]
    model = linear(data["w0"], data["b0"])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x = torch.from_numpy(data["x"][start:stop])
    t = torch.from_numpy(data["target"][start:stop])
    loss = step(model, x, t, torch.from_numpy(data["weight"]), opt)
    np.savez(
        out_path.with_suffix(".doc.npz"),
        loss=loss,
        weight=model.weight.detach().numpy(),
        bias=model.bias.detach().numpy(),
    )


def _work(rank, dist, data, out_path):
    start, stop = SHARDS[rank]
    x = torch.from_numpy(data["x"][start:stop])
    t = torch.from_numpy(data["target"][start:stop])
    w = torch.from_numpy(data["weight"])

    # 1. The manual recipe: sums and normalisers all-reduced, then divided.
    model = linear(data["w0"], data["b0"])
    out = model(x)
    loss_sum = flt.cross_entropy(out, t, w, ignore_index=IGNORE, reduction="sum")
    loss_sum.backward()
    d_local, how = normalizer(t.numpy(), w.numpy())
    totals = torch.tensor([loss_sum.item(), d_local], dtype=torch.float64)
    dist.all_reduce(totals)
    loss_total, d_total = totals.tolist()
    grads = []
    for p in model.parameters():
        dist.all_reduce(p.grad)
        grads.append((p.grad / d_total).numpy())
    # The naive recipe: each rank's own mean, averaged over ranks.
    naive = flt.cross_entropy(out.detach(), t, w, ignore_index=IGNORE).reshape(1)
    dist.all_reduce(naive)

    # 2. DistributedDataParallel: it averages gradients over ranks, so scaling the
    # shard's sum by WORLD / D gives sum_r grad_r / D, the whole batch's "mean".
    ddp = torch.nn.parallel.DistributedDataParallel(linear(data["w0"], data["b0"]))
    opt = torch.optim.SGD(ddp.parameters(), lr=LR)
    ddp_losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = flt.cross_entropy(ddp(x), t, w, ignore_index=IGNORE, reduction="sum")
        (loss * (WORLD / d_total)).backward()
        opt.step()
        step_loss = loss.detach().reshape(1)
        dist.all_reduce(step_loss)
        ddp_losses.append(step_loss.item() / d_total)

    np.savez(
        out_path,
        loss=loss_total / d_total,
        d_local=d_local,
        d_total=d_total,
        grad_weight=grads[0],
        grad_bias=grads[1],
        naive=naive.item() / WORLD,
        ddp_weight=ddp.module.weight.detach().numpy(),
        ddp_bias=ddp.module.bias.detach().numpy(),
        ddp_losses=np.array(ddp_losses),
        normalizer=how,
    )


# --------------------------------------------------------------------------------
# the launcher (in the pytest process)
# --------------------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(procs, teardown_markers):
    """The workers' exit codes, or None when they did not finish within DEADLINE.

    gloo's teardown in torch 2.13 sometimes hangs a rank for good, inside C code
    that holds the GIL, after the docs program has done every step and its final
    barrier (seen in CI and on a loaded machine; the faulthandler dump shows the
    rank in C code under the docs' ``train()``, past the marker this test writes
    on entering ``destroy_process_group``). Every result is written by then, so
    ranks that have all been past that point for TEARDOWN_GRACE seconds are ended
    here and count as finished, with a warning; a hang anywhere else still fails."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if all(p.poll() is not None for p in procs):
            return [p.returncode for p in procs]
        now = time.time()
        running = [r for r, p in enumerate(procs) if p.poll() is None]
        if all(
            teardown_markers[r].exists()
            and now - teardown_markers[r].stat().st_mtime >= TEARDOWN_GRACE
            for r in running
        ):
            for r in running:
                procs[r].kill()
                procs[r].wait(timeout=10)
            warnings.warn(
                f"ranks {running} hung in torch.distributed's teardown after the "
                f"docs program's last step; ended after {TEARDOWN_GRACE:.0f} s",
                stacklevel=2,
            )
            return [0 if r in running else p.returncode for r, p in enumerate(procs)]
        time.sleep(0.1)
    return None


def launch(tmp, data_path):
    """Run the WORLD workers to completion within DEADLINE; return their results.

    A port taken between choosing and binding it makes a retry, once."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    iface = {"linux": "lo", "darwin": "lo0"}.get(sys.platform)
    if iface and "GLOO_SOCKET_IFNAME" not in env:
        env["GLOO_SOCKET_IFNAME"] = iface  # the loopback, whatever the hostname
    for attempt in range(2):
        port, doc_port = free_port(), free_port()
        procs, logs, outs = [], [], []
        for rank in range(WORLD):
            outs.append(tmp / f"rank{rank}-{attempt}.npz")
            logs.append(tmp / f"rank{rank}-{attempt}.log")
            with open(logs[-1], "w") as log:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--worker",
                            str(rank),
                            str(port),
                            str(data_path),
                            str(outs[-1]),
                            str(doc_port),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        try:
            codes = _wait(procs, [o.with_suffix(f".teardown{r}") for r, o in
                                  enumerate(outs)])  # fmt: skip
        finally:
            for p in procs:  # only our own workers, by handle
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
        text = "\n".join(
            f"--- rank {r} (exit {p.returncode}) ---\n{log.read_text()}"
            for r, (p, log) in enumerate(zip(procs, logs))
        )
        if codes is None:
            pytest.fail(f"workers did not finish within {DEADLINE} s:\n{text}")
        if any(codes):
            if attempt == 0 and "address already in use" in text.lower():
                continue
            pytest.fail(f"a worker failed:\n{text}")
        docs = [o.with_suffix(".doc.npz") for o in outs]
        results = [dict(np.load(o)) for o in outs]
        doc_results = [dict(np.load(d)) if d.exists() else None for d in docs]
        return results, doc_results, [log.read_text() for log in logs]
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distributed")
    data_path = tmp / "problem.npz"
    make_problem(data_path)
    results, doc_results, logs = launch(tmp, data_path)
    return dict(np.load(data_path)), results, (doc_results, logs)


def single_process(data):
    """PyTorch's own mean cross-entropy on the whole batch, one process."""
    model = linear(data["w0"], data["b0"])
    x, t = torch.from_numpy(data["x"]), torch.from_numpy(data["target"])
    w = torch.from_numpy(data["weight"])
    loss = F.cross_entropy(model(x), t, w, ignore_index=IGNORE)
    loss.backward()
    return loss.item(), model.weight.grad.numpy(), model.bias.grad.numpy()


# --------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------


def test_ranks_agree(run):
    _, results, _ = run
    first, second = results
    for key in ("loss", "d_total", "grad_weight", "grad_bias", "naive", "ddp_weight"):
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert first["d_local"] != second["d_local"]


def test_all_reduced_loss_and_gradients_equal_the_whole_batch_mean(run):
    data, results, _ = run
    loss, grad_w, grad_b = single_process(data)
    assert results[0]["d_total"] == pytest.approx(
        plain_normalizer(data["target"], data["weight"]), rel=1e-14
    )
    for r in results:
        assert float(r["loss"]) == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(r["grad_weight"], grad_w, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(r["grad_bias"], grad_b, rtol=1e-10, atol=1e-14)
    assert np.abs(grad_w).max() > 1e-3  # not trivially zero


def test_naive_mean_of_shard_means_differs(run):
    """Averaging the ranks' own means weighs rank 0's few real tokens as much as
    rank 1's many: it is not the batch's mean, which is why D is all-reduced."""
    data, results, _ = run
    loss, _, _ = single_process(data)
    naive = float(results[0]["naive"])
    assert abs(naive - loss) > 1e-2 * abs(loss), (naive, loss)
    # ...and it is exactly the mean of the two shards' torch means
    x, t = torch.from_numpy(data["x"]), torch.from_numpy(data["target"])
    out = linear(data["w0"], data["b0"])(x).detach()
    w = torch.from_numpy(data["weight"])
    means = [
        F.cross_entropy(out[a:b], t[a:b], w, ignore_index=IGNORE).item()
        for a, b in SHARDS
    ]
    assert naive == pytest.approx(sum(means) / WORLD, rel=1e-12)


def test_ddp_training_matches_single_process_training(run):
    data, results, _ = run
    model = linear(data["w0"], data["b0"])
    x, t = torch.from_numpy(data["x"]), torch.from_numpy(data["target"])
    w = torch.from_numpy(data["weight"])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t, w, ignore_index=IGNORE)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for r in results:
        np.testing.assert_allclose(r["ddp_losses"], losses, rtol=1e-12)
        np.testing.assert_allclose(
            r["ddp_weight"], model.weight.detach().numpy(), rtol=1e-10, atol=1e-13
        )
        np.testing.assert_allclose(
            r["ddp_bias"], model.bias.detach().numpy(), rtol=1e-10, atol=1e-13
        )
    assert not np.allclose(results[0]["ddp_weight"], data["w0"])


def test_normaliser_used(run):
    data, results, _ = run
    how = str(results[0]["normalizer"])
    if not hasattr(fastloss, "cross_entropy_normalizer"):
        assert how == "plain"
        pytest.skip(
            "fastloss.cross_entropy_normalizer is not available: D computed plainly"
        )
    assert how == "fastloss.cross_entropy_normalizer"
    for a, b in SHARDS:
        t = data["target"][a:b]
        assert fastloss.cross_entropy_normalizer(
            t, class_weight=data["weight"], ignore_index=IGNORE
        ) == pytest.approx(plain_normalizer(t, data["weight"]), rel=1e-14)


def test_docs_all_reduce_step_matches_single_process(run):
    """The step() of docs/torch.md: one SGD step on the two shards equals one on
    the whole batch with PyTorch's mean."""
    if not DOC.exists():
        pytest.skip("docs/torch.md is not next to the tests")
    data, _, (doc_results, logs) = run
    assert all(r is not None for r in doc_results), logs
    model = linear(data["w0"], data["b0"])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss = F.cross_entropy(
        model(torch.from_numpy(data["x"])),
        torch.from_numpy(data["target"]),
        torch.from_numpy(data["weight"]),
        ignore_index=IGNORE,
    )
    loss.backward()
    opt.step()
    for r in doc_results:
        assert float(r["loss"]) == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(
            r["weight"], model.weight.detach().numpy(), rtol=1e-10, atol=1e-13
        )
        np.testing.assert_allclose(
            r["bias"], model.bias.detach().numpy(), rtol=1e-10, atol=1e-13
        )


def test_docs_ddp_program_trains(run):
    """The complete program of docs/torch.md ran on the two ranks."""
    if not DOC.exists():
        pytest.skip("docs/torch.md is not next to the tests")
    _, _, (_, logs) = run
    assert "failed" not in logs[0] + logs[1], logs
    losses = [float(v) for v in re.findall(r"step \d+: mean loss ([\d.]+)", logs[0])]
    assert len(losses) == 5, logs[0]
    assert losses[-1] < losses[0]
    assert "mean loss" not in logs[1]  # only rank 0 prints


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "--worker":
    worker(
        int(sys.argv[2]),
        int(sys.argv[3]),
        Path(sys.argv[4]),
        Path(sys.argv[5]),
        int(sys.argv[6]),
    )
