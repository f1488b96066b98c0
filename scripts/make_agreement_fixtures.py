#!/usr/bin/env python3
"""Reference values for the agreement and ranking statistics of clinician review, made by the
implementations the project answers to: scikit-learn's cohen_kappa_score(weights="quadratic"),
PyPI krippendorff's alpha(level_of_measurement="ordinal"), and for Bradley-Terry an independent
maximum-likelihood fit (scipy.optimize.minimize on the log-likelihood). Writes
tests/fixtures/metrics/agreement.json.

    pip install scikit-learn==1.* krippendorff==0.8.* scipy numpy
    python3 scripts/make_agreement_fixtures.py
"""
import json
import math
import os
import warnings

import krippendorff
import numpy as np
import scipy.optimize
import sklearn
from sklearn.metrics import cohen_kappa_score

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics", "agreement.json")
rng = np.random.default_rng(12)


def none_if_nan(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def kappa_case(name, a, b):
    both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = cohen_kappa_score([x for x, _ in both], [y for _, y in both], weights="quadratic") if both else float("nan")
    return {"name": name, "a": a, "b": b, "kappa": none_if_nan(float(value))}


def alpha_case(name, raters):
    """raters x units, None for missing."""
    data = np.array([[np.nan if v is None else v for v in r] for r in raters], dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    except ValueError:  # "There has to be more than one value in the domain."
        value = float("nan")
    return {"name": name, "raters": raters, "alpha": none_if_nan(float(value))}


def noisy(truth, spread, missing):
    out = []
    for t in truth:
        if rng.random() < missing:
            out.append(None)
        else:
            out.append(int(min(4, max(1, t + rng.integers(-spread, spread + 1)))))
    return out


kappa, alpha = [], []
truth = rng.integers(1, 5, size=40).tolist()
kappa.append(kappa_case("close raters", noisy(truth, 1, 0.0), noisy(truth, 1, 0.0)))
kappa.append(kappa_case("missing ratings", noisy(truth, 1, 0.2), noisy(truth, 1, 0.2)))
kappa.append(kappa_case("far apart", noisy(truth, 3, 0.0), noisy(truth, 3, 0.0)))
kappa.append(kappa_case("a constant rater", [3] * 12, noisy(truth[:12], 1, 0.0)))
kappa.append(kappa_case("both constant, same value", [2] * 6, [2] * 6))
kappa.append(kappa_case("labels 1, 3, 4 only", [1, 3, 4, 4, 1, 3, 3], [1, 4, 4, 3, 1, 3, 1]))
kappa.append(kappa_case("perfect", [1, 2, 3, 4, 2], [1, 2, 3, 4, 2]))
kappa.append(kappa_case("no unit rated by both", [1, None, 2], [None, 3, None]))
for k in (2, 3, 4, 5):
    truth = rng.integers(1, 5, size=30).tolist()
    alpha.append(alpha_case(f"{k} raters", [noisy(truth, 1, 0.0) for _ in range(k)]))
    alpha.append(alpha_case(f"{k} raters, missing ratings", [noisy(truth, 1, 0.3) for _ in range(k)]))
alpha.append(alpha_case("a constant rater", [[2] * 15, noisy(rng.integers(1, 5, size=15).tolist(), 1, 0.0), noisy(rng.integers(1, 5, size=15).tolist(), 1, 0.1)]))
alpha.append(alpha_case("ties everywhere", [[1, 1, 2, 2, 4, 4, 4], [1, 2, 2, 2, 4, 3, 4], [1, 1, 2, 3, 4, 4, None]]))
alpha.append(alpha_case("every rating the same", [[3, 3, 3], [3, 3, None]]))
alpha.append(alpha_case("values 1 and 4 only", [[1, 4, 4, 1, 4], [1, 4, 1, 1, 4]]))
alpha.append(alpha_case("singletons left out", [[1, 2, None, 3, None], [1, None, 4, 3, None], [None, 2, None, 4, 2]]))


def bt_case(name, n, comparisons):
    wins = np.zeros((n, n))
    for a, b, s in comparisons:
        wins[a, b] += s
        wins[b, a] += 1 - s

    def nll(free):
        s = np.concatenate([[0.0], free])
        total = 0.0
        for i in range(n):
            for j in range(n):
                if wins[i, j] > 0:
                    total -= wins[i, j] * -np.logaddexp(0.0, s[j] - s[i])
        return total

    res = scipy.optimize.minimize(nll, np.zeros(n - 1), method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    s = np.concatenate([[0.0], res.x])
    s = s - s.mean()
    return {"name": name, "runs": n, "comparisons": [list(c) for c in comparisons], "strengths": s.tolist()}


bt = []
def games(n, count, skill):
    out = []
    for _ in range(count):
        a, b = rng.choice(n, size=2, replace=False)
        p = 1 / (1 + math.exp(skill[b] - skill[a]))
        u = rng.random()
        out.append((int(a), int(b), 0.5 if abs(u - p) < 0.1 else (1.0 if u < p else 0.0)))
    return out
bt.append(bt_case("three runs", 3, games(3, 60, [0.5, 0.0, -0.7])))
bt.append(bt_case("five runs with ties", 5, games(5, 200, [1.0, 0.4, 0.0, -0.3, -1.1])))
bt.append(bt_case("two runs, ties only and one win", 2, [(0, 1, 0.5), (0, 1, 0.5), (1, 0, 1.0)]))

with open(OUT, "w") as f:
    json.dump({"made_by": {"scikit-learn": sklearn.__version__, "krippendorff": getattr(krippendorff, "__version__", "?"), "scipy": scipy.__version__},
               "kappa": kappa, "alpha": alpha, "bradley_terry": bt}, f, indent=1)
    f.write("\n")
print(json.dumps({"kappa": [c["kappa"] for c in kappa], "alpha": [c["alpha"] for c in alpha]}, indent=1))
