"""xgboost.dask with a fastloss objective on a two-process LocalCluster on the
loopback address gives the single-process model (skipped without dask/xgboost)."""

import numpy as np
import pytest

from fastloss import objectives as ob


def test_xgboost_dask_two_workers_match_single_process():
    xgb = pytest.importorskip("xgboost")
    pytest.importorskip("xgboost.dask")
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("dask.distributed")
    rng = np.random.default_rng(0)
    n = 4000
    # Features of 16 distinct values (fewer than max_bin): the histogram cuts are
    # then those values whoever sketches them, so the distributed quantile sketch
    # (merged from the workers' sketches) cannot move a split.
    X = rng.integers(0, 16, size=(n, 6)).astype(np.float64) / 4 - 2
    y = (X[:, 0] - X[:, 1] * X[:, 2] + rng.logistic(size=n) > 0).astype(np.float64)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "base_score": 0.0}
    obj = ob.xgboost("logistic")
    single = xgb.train(params, xgb.DMatrix(X, label=y), 10, obj=obj)
    want = single.predict(xgb.DMatrix(X), output_margin=True)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # two chunks, persisted so that each worker holds one
        dX = da.from_array(X, chunks=(n // 2, X.shape[1]))
        dy = da.from_array(y, chunks=n // 2)
        dX, dy = client.persist([dX, dy])
        distributed.wait([dX, dy])
        holders = {w for ws in client.who_has(dX).values() for w in ws}
        assert len(holders) == 2, holders  # the data really is split over both
        dtrain = xgb.dask.DaskDMatrix(client, dX, dy)
        out = xgb.dask.train(client, params, dtrain, 10, obj=obj)
        got = out["booster"].predict(xgb.DMatrix(X), output_margin=True)
    # Each worker computes the gradient of its rows (the objective is pickled to
    # the workers); the histograms are allreduced in float64, in another order
    # than one process sums them: the margins differ in the last float32 bits.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
