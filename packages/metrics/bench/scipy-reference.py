#!/usr/bin/env python3
"""Reference values for @vqlm/metrics' tests, computed with SciPy.

Regenerate (Debian: apt-get install python3-scipy) from packages/metrics:

    /usr/bin/python3 bench/scipy-reference.py > src/__fixtures__/scipy-reference.json

The data are generated with the same 32-bit LCG and the same arithmetic (only
+ - * / and floor, so every value is bit-identical) as src/__fixtures__/data.ts.
"""
import json
import sys

import numpy as np
import scipy
from scipy import optimize, stats


class Lcg:
    """state <- (1664525 * state + 1013904223) mod 2^32; u = state / 2^32."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF

    def next(self):
        self.state = (1664525 * self.state + 1013904223) & 0xFFFFFFFF
        return self.state / 4294967296


def tied_dataset(n, seed):
    """pred in steps of 0.001, mos in steps of 0.02 on [1, 5]: many ties."""
    rng = Lcg(seed)
    pred = np.empty(n)
    mos = np.empty(n)
    for i in range(n):
        q = rng.next()
        e1 = rng.next() + rng.next() + rng.next() - 1.5
        e2 = rng.next() + rng.next() - 1
        raw = 1 + 4 * (q * q) / (q * q + (1 - q) * (1 - q)) + 0.25 * e1
        mos[i] = np.floor(raw * 50 + 0.5) / 50
        pred[i] = np.floor((q + 0.15 * e2) * 1000 + 0.5) / 1000
    return pred, mos


def coarse_dataset(n, seed):
    """Integer scores 0..4 for both: very heavy ties."""
    rng = Lcg(seed)
    pred = np.empty(n)
    mos = np.empty(n)
    for i in range(n):
        q = rng.next()
        mos[i] = np.floor(q * 5)
        pred[i] = np.floor((q + 0.5 * (rng.next() - 0.5)) * 5)
    return pred, mos


def logistic4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4))) + b2


def logistic4_jac(x, b1, b2, b3, b4):
    scale = np.abs(b4)
    z = (x - b3) / scale
    s = 1 / (1 + np.exp(-z))
    ds = s * (1 - s)
    amp = b1 - b2
    return np.stack([s, 1 - s, -amp * ds / scale, -amp * ds * z * np.sign(b4) / scale], axis=1)


def logistic5(x, b1, b2, b3, b4, b5):
    return b1 * (0.5 - 1 / (1 + np.exp(b2 * (x - b3)))) + b4 * x + b5


def logistic5_jac(x, b1, b2, b3, b4, b5):
    dx = x - b3
    u = 1 / (1 + np.exp(b2 * dx))
    du = u * (1 - u)
    return np.stack([0.5 - u, b1 * du * dx, -b1 * b2 * du, x, np.ones_like(x)], axis=1)


def initial_beta(x, y, params):
    """The documented default start of fitLogistic (initialLogisticBeta)."""
    sign = 1 if np.sum((x - x.mean()) * (y - y.mean())) >= 0 else -1
    if params == 4:
        hi, lo = (y.max(), y.min()) if sign > 0 else (y.min(), y.max())
        return [hi, lo, x.mean(), x.std()]
    return [y.max() - y.min(), sign / x.std(), x.mean(), 0.0, y.mean()]


def logistic_reference(x, y, params):
    f, jac = (logistic4, logistic4_jac) if params == 4 else (logistic5, logistic5_jac)
    start = initial_beta(x, y, params)
    beta, _ = optimize.curve_fit(
        f, x, y, p0=start, jac=jac, method="lm", ftol=1e-14, xtol=1e-14, gtol=0.0, maxfev=100000
    )
    fitted = f(x, *beta)
    return {
        "start": [float(v) for v in start],
        "beta": [float(v) for v in beta],
        "sse": float(np.sum((y - fitted) ** 2)),
        "plcc": float(stats.pearsonr(fitted, y)[0]),
        "rmse": float(np.sqrt(np.mean((fitted - y) ** 2))),
    }


def basic(pred, mos):
    return {
        "srcc": float(stats.spearmanr(pred, mos)[0]),
        "plcc": float(stats.pearsonr(pred, mos)[0]),
        "krcc": float(stats.kendalltau(pred, mos)[0]),
        "rmse": float(np.sqrt(np.mean((pred - mos) ** 2))),
    }


def williams(r12, r13, r23, n):
    det = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
    rbar = (r12 + r13) / 2
    t = (r12 - r13) * np.sqrt((n - 1) * (1 + r23) / (2 * (n - 1) / (n - 3) * det + rbar**2 * (1 - r23) ** 3))
    return float(t), float(2 * stats.t.sf(abs(t), n - 3))


def steiger(r12, r13, r23, n):
    rbar = (r12 + r13) / 2
    psi = r23 * (1 - 2 * rbar**2) - 0.5 * rbar**2 * (1 - 2 * rbar**2 - r23**2)
    c = psi / (1 - rbar**2) ** 2
    z = (np.arctanh(r12) - np.arctanh(r13)) * np.sqrt(n - 3) / np.sqrt(2 - 2 * c)
    return float(z), float(2 * stats.norm.sf(abs(z)))


def main():
    out = {"scipy": scipy.__version__, "numpy": np.__version__}

    pred, mos = tied_dataset(100_000, 12345)
    out["tied100k"] = {"n": len(pred), **basic(pred, mos)}
    out["tied100k"]["logistic4"] = logistic_reference(pred, mos, 4)
    out["tied100k"]["logistic5"] = logistic_reference(pred, mos, 5)

    pred, mos = tied_dataset(200, 7)
    out["tied200"] = {"n": len(pred), **basic(pred, mos)}
    out["tied200"]["logistic4"] = logistic_reference(pred, mos, 4)
    out["tied200"]["logistic5"] = logistic_reference(pred, mos, 5)

    pred, mos = coarse_dataset(1000, 99)
    out["coarse1000"] = {"n": len(pred), **basic(pred, mos)}

    # Two models on the same MOS: model B is model A with extra noise.
    a, mos = tied_dataset(300, 2024)
    noise, _ = tied_dataset(300, 77)
    b = a + 0.08 * (noise - 0.5)
    r12 = stats.pearsonr(a, mos)[0]
    r13 = stats.pearsonr(b, mos)[0]
    r23 = stats.pearsonr(a, b)[0]
    s12 = stats.spearmanr(a, mos)[0]
    s13 = stats.spearmanr(b, mos)[0]
    s23 = stats.spearmanr(a, b)[0]
    out["dependent300"] = {
        "williams": williams(r12, r13, r23, 300),
        "steiger": steiger(r12, r13, r23, 300),
        "williamsSrcc": williams(s12, s13, s23, 300),
    }

    # Per-seed SRCC of two methods (paired tests).
    seeds_a = [0.812, 0.825, 0.809, 0.831, 0.818, 0.822, 0.815, 0.828, 0.811, 0.820]
    seeds_b = [0.801, 0.819, 0.812, 0.817, 0.8055, 0.8145, 0.8045, 0.8295, 0.8065, 0.811]
    out["paired"] = {
        "a": seeds_a,
        "b": seeds_b,
        "ttest": [float(v) for v in stats.ttest_rel(seeds_a, seeds_b)],
        "ttestGreater": [float(v) for v in stats.ttest_rel(seeds_a, seeds_b, alternative="greater")],
        "wilcoxonExact": [
            float(v) for v in stats.wilcoxon(seeds_a, seeds_b, zero_method="wilcox", method="exact")
        ],
        "wilcoxonExactLess": [
            float(v)
            for v in stats.wilcoxon(seeds_a, seeds_b, zero_method="wilcox", method="exact", alternative="less")
        ],
        "wilcoxonApprox": [
            float(v)
            for v in stats.wilcoxon(seeds_a, seeds_b, zero_method="wilcox", correction=False, method="approx")
        ],
    }
    # Ties and zeros among the differences: normal approximation with tie correction.
    tied_a = [3, 5, 2, 8, 7, 6, 4, 9, 5, 6, 7, 3]
    tied_b = [1, 5, 4, 6, 5, 6, 2, 4, 3, 8, 4, 1]
    out["pairedTied"] = {
        "a": tied_a,
        "b": tied_b,
        "wilcoxonApprox": [
            float(v) for v in stats.wilcoxon(tied_a, tied_b, zero_method="wilcox", correction=False, method="approx")
        ],
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
