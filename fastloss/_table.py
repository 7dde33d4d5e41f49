"""The loss table: every loss fastloss has, described once.

Each `Loss` row names a functional loss (``fastloss.<name>`` and, when it has a
gradient, ``fastloss.<name>_and_grad``), the C kernel family and kind behind it,
what its inputs are, the output it pairs with in a model (softmax, sigmoid or
identity), whether and how `fastloss.nn` trains with it, its `fastloss.torch`
form, and how the fuzz harness and the benchmarks call it. Each `KerasLoss` row
names a Keras-named class of `fastloss.losses`, its Keras 3 string names and the
training loss `fastloss.nn` makes of it.

Derived from these rows, not written again: the losses in ``fastloss.__all__``,
`fastloss.get_loss`'s names, `fastloss.losses`' classes and names,
`fastloss.nn`'s loss names, ``fastloss.torch.__all__``, the fuzz harness's
functions (fuzz/_harness.py) and the benchmark cases (benchmarks/_loss_impls.py).
tests/test_table.py checks each of them against the rows. This module imports
nothing of fastloss: every layer may import it.

Adding a loss: docs/adding_a_loss.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KERAS", "LOSSES", "KerasLoss", "Loss", "Bench", "by_name"]


@dataclass(frozen=True)
class Bench:
    """How benchmarks/_loss_impls.py calls a loss: `id` is the case's short name,
    `inputs` the generator of its inputs ("logits", "regression", "probs",
    "classes", "two_logits", "triplet"), `options` the loss options every
    implementation is given, `n_grads` the inputs the gradient is taken for and
    `shapes` its own shapes (() for the family's)."""

    id: str
    inputs: str
    options: dict[str, Any] = field(default_factory=dict)
    n_grads: int = 1
    shapes: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class Loss:
    """One functional loss.

    name : the public function, ``fastloss.<name>``.
    module : the fastloss module that defines it.
    family, kind : the C kernel family ("softmax_ce", "rowwise", "elementwise",
        "linear_ce", "ctc") and the kind within it (the FL_EW_* / FL_RW_* suffix), None
        where the family has one kind.
    inputs : its positional arguments, in order.
    output : what turns a model's last-layer outputs into predictions when this
        loss trains it: "softmax", "sigmoid" or "identity".
    grad : whether ``<name>_and_grad`` exists.
    target : the target `fastloss.nn` takes for it ("index", "prob", "auto",
        "binary", "real"); None when it cannot train a model, with `why_not`.
    torch : its names in `fastloss.torch` (function, then class), if any.
    fuzz : the fuzz harness's family key (fuzz/_harness.py), None if not fuzzed.
    bench : its case in benchmarks/_loss_impls.py, None if it has none there.
    """

    name: str
    module: str
    family: str
    kind: str | None
    inputs: tuple[str, ...]
    output: str
    grad: bool = True
    target: str | None = None
    why_not: str = ""
    torch: tuple[str, ...] = ()
    fuzz: str | None = None
    bench: Bench | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Its public functions: the loss, then the fused loss-and-gradient."""
        return (self.name, self.name + "_and_grad") if self.grad else (self.name,)


@dataclass(frozen=True)
class KerasLoss:
    """One Keras-named class of `fastloss.losses`.

    cls : the class name (Keras's).
    names : Keras 3's string names for it (``keras.losses.get``).
    function : the with-logits fastloss loss `fastloss.nn` trains with for it,
        with `target` and `options` (Keras's defaults for the string names);
        None when it cannot train a logits model, with `why_not`.
    """

    cls: str
    names: tuple[str, ...]
    function: str | None = None
    target: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    why_not: str = ""


# A benchmark case's options are given to every implementation alike: fastloss's
# defaults, and torchvision's for the sigmoid focal loss.
_REGRESSION = "regression"
# The circle loss scores the pairs of a batch, not each sample against its target.
_PAIRS = (
    "it scores the pairs of a batch's embeddings by their labels, not each output "
    "against its target: use fastloss.circle_loss_and_grad in your own loop"
)
# Dice and Tversky compare probabilities; fastloss.nn's outputs are logits.
_NOT_PROBS = (
    "it compares probabilities with labels and this model emits logits (no "
    "sigmoid or softmax output layer is fused with it yet)"
)

# The generalized cross-entropy takes probabilities and class indices.
_NOT_PROBS_GCE = (
    "it takes probabilities and this model emits logits (no softmax output layer "
    "is fused with it yet): use fastloss.categorical_generalized_cross_entropy_"
    "loss_and_grad on softmax outputs in your own loop"
)

_NO_TIME_AXIS = (
    "it scores label sequences against per-frame outputs, and fastloss.nn models "
    "have no time axis: use fastloss.ctc_loss_and_grad in your own loop"
)

# The order is the fuzz harness's: its generator picks a function by position, so
# a reordering changes which inputs a seed makes. New rows go at the end.
LOSSES: tuple[Loss, ...] = (
    Loss(
        "softmax_cross_entropy",
        "_softmax_ce",
        "softmax_ce",
        None,
        ("logits", "target"),
        "softmax",
        target="auto",
        torch=("cross_entropy", "CrossEntropyLoss"),
        fuzz="sce",
        # benchmarks/summary.py is its own harness, with its own shapes
    ),
    Loss(
        "perplexity",
        "_rowwise",
        "softmax_ce",
        None,
        ("logits", "target"),
        "softmax",
        grad=False,
        why_not="it is a metric with no gradient function",
        fuzz="ppl",
    ),
    Loss(
        "softmax_focal_loss",
        "_rowwise",
        "rowwise",
        "FOCAL",
        ("logits", "target"),
        "softmax",
        target="index",
        torch=("softmax_focal_loss",),
        fuzz="focal",
        bench=Bench("softmax_focal", "classes", {"gamma": 2.0}),
    ),
    Loss(
        "kl_div_with_logits",
        "_rowwise",
        "rowwise",
        "KL_LOGITS",
        ("student_logits", "teacher_logits"),
        "softmax",
        why_not="its targets are a teacher's logits, not labels",
        torch=("kl_div_with_logits",),
        fuzz="kl",
        bench=Bench("kl_div", "two_logits", {"temperature": 1.0}),
    ),
    Loss(
        "triplet_margin_loss",
        "_rowwise",
        "rowwise",
        "TRIPLET",
        ("anchor", "positive", "negative"),
        "identity",
        why_not="it takes three embeddings, not outputs and targets",
        torch=("triplet_margin_loss", "TripletMarginLoss"),
        fuzz="triplet",
        bench=Bench(
            "triplet",
            "triplet",
            {"margin": 1.0, "p": 2, "eps": 1e-6},
            n_grads=3,
            shapes=((8192, 1000), (65536, 128)),  # embedding batches
        ),
    ),
    Loss(
        "mse_loss",
        "_regression",
        "elementwise",
        "MSE",
        ("pred", "target"),
        "identity",
        target="real",
        torch=("mse_loss", "MSELoss"),
        fuzz="mse",
        bench=Bench("mse", _REGRESSION),
    ),
    Loss(
        "l1_loss",
        "_regression",
        "elementwise",
        "L1",
        ("pred", "target"),
        "identity",
        target="real",
        torch=("l1_loss", "L1Loss"),
        fuzz="l1",
        bench=Bench("l1", _REGRESSION),
    ),
    Loss(
        "huber_loss",
        "_regression",
        "elementwise",
        "HUBER",
        ("pred", "target"),
        "identity",
        target="real",
        torch=("huber_loss", "HuberLoss"),
        fuzz="huber",
        bench=Bench("huber", _REGRESSION, {"delta": 1.0}),
    ),
    Loss(
        "smooth_l1_loss",
        "_regression",
        "elementwise",
        "SMOOTH_L1",
        ("pred", "target"),
        "identity",
        target="real",
        torch=("smooth_l1_loss", "SmoothL1Loss"),
        fuzz="smooth_l1",
        bench=Bench("smooth_l1", _REGRESSION, {"beta": 1.0}),
    ),
    Loss(
        "log_cosh_loss",
        "_regression",
        "elementwise",
        "LOG_COSH",
        ("pred", "target"),
        "identity",
        target="real",
        torch=("log_cosh_loss",),
        fuzz="log_cosh",
        bench=Bench("log_cosh", _REGRESSION),
    ),
    Loss(
        "binary_cross_entropy_with_logits",
        "_binary",
        "elementwise",
        "BCE_LOGITS",
        ("logits", "target"),
        "sigmoid",
        target="binary",
        torch=("binary_cross_entropy_with_logits", "BCEWithLogitsLoss"),
        fuzz="bce_logits",
        bench=Bench("bce_logits", "logits"),
    ),
    Loss(
        "binary_cross_entropy",
        "_binary",
        "elementwise",
        "BCE_PROB",
        ("probs", "target"),
        "identity",
        why_not="it takes probabilities; this model emits logits: use "
        "'binary_crossentropy' (binary_cross_entropy_with_logits)",
        fuzz="bce",
        bench=Bench("bce", "probs", {"epsilon": 1e-7}),  # Keras's clip
    ),
    Loss(
        "sigmoid_focal_loss",
        "_binary",
        "elementwise",
        "SIGMOID_FOCAL",
        ("logits", "target"),
        "sigmoid",
        target="binary",
        torch=("sigmoid_focal_loss",),
        fuzz="sfocal",
        bench=Bench("sigmoid_focal", "logits", {"alpha": 0.25, "gamma": 2.0}),
    ),
    Loss(
        "linear_cross_entropy",
        "_linear_ce",
        "linear_ce",
        None,
        ("hidden", "weight", "target"),
        "softmax",
        why_not="it takes the hidden states and the output layer's weights, not "
        "the model's outputs (fastloss.nn models end in a Dense layer: use "
        "'sparse_categorical_crossentropy')",
        torch=("linear_cross_entropy",),
    ),
    Loss(
        "poisson_loss",
        "_regression",
        "elementwise",
        "POISSON_LOG",  # and POISSON for log_input=False
        ("pred", "target"),
        "identity",
        why_not="its predictions are log-rates and fastloss.nn has no exp output "
        "layer yet: use fastloss.poisson_loss_and_grad in your own loop",
    ),
    Loss(
        "cosine_similarity_loss",
        "_similarity",
        "rowwise",
        "COSINE",
        ("pred", "target"),
        "identity",
        target="real",
    ),
    Loss(
        "dice_loss",
        "_similarity",
        "rowwise",
        "DICE",
        ("pred", "target"),
        "identity",
        why_not=_NOT_PROBS,
    ),
    Loss(
        "tversky_loss",
        "_similarity",
        "rowwise",
        "TVERSKY",
        ("pred", "target"),
        "identity",
        why_not=_NOT_PROBS,
    ),
    Loss(
        "circle_loss",
        "_similarity",
        "rowwise",
        "CIRCLE",
        ("embeddings", "labels"),
        "identity",
        why_not=_PAIRS,
    ),
    Loss(
        "hinge_loss",
        "_margin",
        "elementwise",
        "HINGE",
        ("pred", "target"),
        "identity",
        target="real",
    ),
    Loss(
        "squared_hinge_loss",
        "_margin",
        "elementwise",
        "SQUARED_HINGE",
        ("pred", "target"),
        "identity",
        target="real",
    ),
    Loss(
        "msle_loss",
        "_regression",
        "elementwise",
        "MSLE",
        ("pred", "target"),
        "identity",
        target="real",
    ),
    Loss(
        "mape_loss",
        "_regression",
        "elementwise",
        "MAPE",
        ("pred", "target"),
        "identity",
        target="real",
    ),
    Loss(
        "ctc_loss",
        "_ctc",
        "ctc",
        None,
        ("log_probs", "targets", "input_lengths", "target_lengths"),
        "identity",  # its input is already per-frame log-probabilities
        why_not=_NO_TIME_AXIS,
    ),
    Loss(
        "categorical_hinge_loss",
        "_categorical",
        "rowwise",
        "CAT_HINGE",
        ("pred", "target"),
        "identity",  # scores: a Dense output as it is
        target="prob",  # one-hot rows of the output's width
    ),
    Loss(
        "categorical_generalized_cross_entropy_loss",
        "_categorical",
        "rowwise",
        "GCE",
        ("probs", "target"),
        "identity",
        why_not=_NOT_PROBS_GCE,
    ),
)

_NOT_LOGITS = "it compares probabilities, not logits with targets"

# Alphabetical, as fastloss.losses documents them.
KERAS: tuple[KerasLoss, ...] = (
    KerasLoss(
        "BinaryCrossentropy",
        ("binary_crossentropy", "bce", "BCE"),
        "binary_cross_entropy_with_logits",
        "binary",
    ),
    KerasLoss(
        "BinaryFocalCrossentropy",
        ("binary_focal_crossentropy",),
        "sigmoid_focal_loss",
        "binary",
        {"alpha": None, "gamma": 2.0},  # Keras's defaults: no class balancing
    ),
    KerasLoss(
        "CategoricalCrossentropy",
        ("categorical_crossentropy",),
        "softmax_cross_entropy",
        "prob",
    ),
    KerasLoss(
        "CategoricalFocalCrossentropy",
        ("categorical_focal_crossentropy",),
        why_not="use 'softmax_focal_loss' with class indices",
    ),
    KerasLoss("Huber", ("huber",), "huber_loss", "real", {"delta": 1.0}),
    KerasLoss("KLDivergence", ("kl_divergence", "kld", "KLD"), why_not=_NOT_LOGITS),
    KerasLoss("LogCosh", ("log_cosh",), "log_cosh_loss", "real"),
    KerasLoss(
        "MeanAbsoluteError", ("mean_absolute_error", "mae", "MAE"), "l1_loss", "real"
    ),
    KerasLoss(
        "MeanSquaredError", ("mean_squared_error", "mse", "MSE"), "mse_loss", "real"
    ),
    KerasLoss(
        "SparseCategoricalCrossentropy",
        ("sparse_categorical_crossentropy",),
        "softmax_cross_entropy",
        "index",
    ),
    # new rows at the end (merges), not in alphabetical order
    KerasLoss(
        "CosineSimilarity",
        ("cosine_similarity",),
        "cosine_similarity_loss",
        "real",
    ),
    KerasLoss("Dice", ("dice",), why_not=_NOT_PROBS),
    KerasLoss("Tversky", ("tversky",), why_not=_NOT_PROBS),
    KerasLoss("Circle", ("circle",), why_not=_PAIRS),
    KerasLoss("Hinge", ("hinge",), "hinge_loss", "real"),
    KerasLoss("SquaredHinge", ("squared_hinge",), "squared_hinge_loss", "real"),
    KerasLoss(
        "MeanSquaredLogarithmicError",
        ("mean_squared_logarithmic_error", "msle", "MSLE"),
        "msle_loss",
        "real",
    ),
    KerasLoss(
        "MeanAbsolutePercentageError",
        ("mean_absolute_percentage_error", "mape", "MAPE"),
        "mape_loss",
        "real",
    ),
    KerasLoss(
        "Poisson",
        ("poisson",),
        why_not="it takes rates, which a Dense output is not (no exp or softplus "
        "output layer yet): use fastloss.poisson_loss_and_grad on log-rates in "
        "your own loop",
    ),
    KerasLoss("CTC", ("ctc",), why_not=_NO_TIME_AXIS),
    KerasLoss(
        "CategoricalHinge",
        ("categorical_hinge",),
        "categorical_hinge_loss",
        "prob",
    ),
    # Keras 3.15's keras.losses.get knows neither name; fastloss's get knows both
    KerasLoss(
        "CategoricalGeneralizedCrossEntropy",
        ("categorical_generalized_cross_entropy",),
        why_not=_NOT_PROBS_GCE,
    ),
)

_BY_NAME = {row.name: row for row in LOSSES}


def by_name(name: str) -> Loss:
    """The row of the functional loss `name` (KeyError if there is none)."""
    return _BY_NAME[name]
