"""Several visitors' CNNs trained as one batched computation (``torch.func``: stacked parameters,
``vmap`` of the gradient of ``functional_call``; PyTorch runs the K convolutions as grouped ones)
against the app's way, K separate trainings with one torch thread each in K threads. Training
steps only (batch 64 each, plain SGD for both), on random digits, measured in one run.

    python -m benchmarks.batched_training             # K = 2, 4
"""

from __future__ import annotations

import argparse
import copy
import statistics
import threading
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, stack_module_state, vmap

from mnist_demo.models import build_model

BATCH, LR = 64, 1e-3
X, Y = torch.rand(8192, 784), torch.randint(0, 10, (8192,))


def batched(models, threads: int, seconds: float) -> float:
    """Digits per second, all K models together, as one vmapped step."""
    torch.set_num_threads(threads)
    k = len(models)
    params, buffers = stack_module_state(models)
    params = {name: p.detach() for name, p in params.items()}  # updated in place below, by hand
    skeleton = copy.deepcopy(models[0]).to("meta")

    def loss(p, b, xb, yb):
        return F.cross_entropy(functional_call(skeleton, (p, b), (xb,)), yb)

    gradients = vmap(grad(loss))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        i = (steps * BATCH * k) % (len(X) - BATCH * k)
        g = gradients(params, buffers, X[i:i + BATCH * k].view(k, BATCH, -1), Y[i:i + BATCH * k].view(k, BATCH))
        for name in params:
            params[name].sub_(LR * g[name])
        steps += 1
    return steps * BATCH * k / (time.perf_counter() - start)


def separate(models, seconds: float) -> float:
    """Digits per second, all K together, each model in its own thread with one torch thread."""
    torch.set_num_threads(1)
    counts = [0] * len(models)
    stop = time.perf_counter() + seconds

    def run(k):
        model = models[k]
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        while time.perf_counter() < stop:
            i = (counts[k] * BATCH) % (len(X) - BATCH)
            loss = F.cross_entropy(model(X[i:i + BATCH]), Y[i:i + BATCH])
            opt.zero_grad()
            loss.backward()
            opt.step()
            counts[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) * BATCH / seconds


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ks", default="2,4")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (this machine is noisy): medians")
    return p


def main() -> None:
    args = parser().parse_args()
    for k in map(int, args.ks.split(",")):
        models = [build_model("cnn") for _ in range(k)]
        separate(models, 1.0), batched(models, 1, 1.0)  # warm-up: first steps are slow (oneDNN, vmap tracing)
        runs = {"separate": [], "batched, 1 thread": [], "batched, 2 threads": []}
        for _ in range(args.rounds):
            runs["separate"].append(separate(models, args.seconds))
            runs["batched, 1 thread"].append(batched(models, 1, args.seconds))
            runs["batched, 2 threads"].append(batched(models, 2, args.seconds))
        apart = statistics.median(runs["separate"])
        for name, rates in runs.items():
            print(f"K={k} {name:19} median {statistics.median(rates):9,.0f} digits/s together "
                  f"(range {min(rates):,.0f}-{max(rates):,.0f}); {statistics.median(rates) / apart:.2f}x separate")


if __name__ == "__main__":
    main()
