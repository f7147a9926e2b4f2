"""Training in the page, how fast: samples a second of one training step of the page's code
(mnist_demo/page/train.js, optim.js, trainer.js) at batch 64 under Node, on the main thread and
across 1 and 2 worker threads running train_worker.js, against two baselines measured in the same
run: the page's forward pass alone (a step is a forward pass, a backward pass about twice its cost,
and an optimizer step), and PyTorch's own training step on one thread (training.py's optimizer).

Real MNIST training digits, the `fast` preset's recipe (Adam, one-cycle), the CNN's weights as
training.py starts them. This machine is shared and noisy: within a round the variants take turns
of a quarter of a second (so that a change of load falls on all of them), and each figure is the
median of --rounds rounds; PyTorch's runs between the rounds. Under Node it also prints samples per
CPU second (the process's CPU time, all its threads), which the machine's other jobs disturb less:
for one thread it is the code's own speed, and for workers it shows what the messages cost.

With --browser, the same in headless Chromium (the machine's /usr/bin/chromium, through Playwright):
the page's files inlined in a page, the workers Web Workers made from train.js, optim.js,
trainer.js and train_worker.js, as the page would make them.

    python -m benchmarks.page_training                  # the CNN, batch 64, 1 and 2 workers
    python -m benchmarks.page_training --model linear
    python -m benchmarks.page_training --browser        # also in headless Chromium
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mnist_demo.presets import PRESETS, TRAINING
from mnist_demo.settings import from_process  # MNIST_DIR, MNIST_DATA_DIR: as the app reads them
from mnist_demo.training import new_model, optimizer_for, scheduler_for

NODE_SCRIPT = Path(__file__).with_name("page_training.js")
BATCHES = 20  # distinct batches the steps cycle through
# In the page (benchmarks/harness/training_page.py: the page's scripts inlined, its workers made from
# a Blob of them and train_worker.js, as the page would make them), the benchmark's own script too.
IN_CHROMIUM = """async (spec) => {
  const floats = (text) => {
    const bin = atob(text), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  };
  const newWorker = () => new Worker(trainingWorkerUrl);
  const out = await measurePageTraining(spec, {T: MnistTrain, R: MnistTrainer, newWorker, floats});
  return {...out, cores: navigator.hardwareConcurrency};
}"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("cnn", "linear"), default="cnn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", default="1,2", help="worker-thread counts to measure, comma-separated")
    p.add_argument("--seconds", type=float, default=3.0, help="measured per variant per round, in turns of 0.25 s")
    p.add_argument("--rounds", type=int, default=3, help="rounds (this machine is noisy): medians")
    p.add_argument("--browser", action="store_true", help="also in headless Chromium, with Web Workers")
    return p


def f32(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, "<f4").tobytes()).decode()


def torch_rate(model_name: str, cfg, x: np.ndarray, y: np.ndarray, batch: int, seconds: float) -> float:
    """training.py's step (forward, cross-entropy, backward, optimizer, schedule) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = new_model(model_name, cfg)
        opt = optimizer_for(model, cfg)
        sched = scheduler_for(opt, cfg, 10**9)
        xs, ys = torch.from_numpy(x), torch.from_numpy(y)

        def step(k: int):
            xb, yb = xs[k * batch:(k + 1) * batch], ys[k * batch:(k + 1) * batch]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()

        for k in range(5):
            step(k % BATCHES)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step(done % BATCHES)
            done += 1
        return done * batch / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)


def chromium_rates(spec: dict) -> dict[str, float]:
    """measurePageTraining in headless Chromium, on a page of its own (no server)."""
    from playwright.sync_api import sync_playwright

    from benchmarks.harness.pad import ARGS, CHROMIUM
    from benchmarks.harness.training_page import training_page

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = training_page(browser, (NODE_SCRIPT.read_text(encoding="utf-8"),))
            out = page.evaluate(IN_CHROMIUM, spec)
        finally:
            browser.close()
    cores = out.pop("cores")
    print(f"  (Chromium reports {cores} cores)", flush=True)
    return {f"chromium_{k}": v for k, v in out.items()}


def main() -> None:
    args = parser().parse_args()
    node = shutil.which("node")
    if not node:
        raise SystemExit("Node is needed (the page's code runs under it here)")
    workers = [int(w) for w in args.workers.split(",")]
    cfg = PRESETS["fast"]
    data = from_process().mnist.load()
    rows = np.random.default_rng(0).choice(len(data.x_train), BATCHES * args.batch, replace=False)
    x, y = data.x_train[rows], data.y_train[rows].astype(np.int64)
    model = new_model(args.model, cfg)
    spec = {"model": args.model, "training": TRAINING, "config": dataclasses.asdict(cfg),
            "params": {k: f32(v.detach().numpy()) for k, v in model.state_dict().items()},
            "x": f32(x), "labels": y.tolist(), "batch": args.batch, "seconds": args.seconds, "slice": 0.25,
            "workers": workers}
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.json"
        path.write_text(json.dumps(spec))
        for r in range(args.rounds):
            measured = json.loads(subprocess.run([node, str(NODE_SCRIPT), str(path)], check=True, capture_output=True,
                                                 text=True, timeout=600).stdout)
            if args.browser:
                measured.update(chromium_rates(spec))
            measured["torch_1_thread"] = torch_rate(args.model, cfg, x, y, args.batch, args.seconds)
            for k, v in measured.items():
                runs.setdefault(k, []).append(v)
            shown = {k: v for k, v in measured.items() if not k.startswith("cpu_")}
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:,.0f}" for k, v in shown.items()), flush=True)
    median = {k: statistics.median(v) for k, v in runs.items()}
    names = {"forward": "page JS, forward pass only, main thread (baseline)",
             "main_thread": "page JS training step, main thread (no workers)",
             **{f"workers_{w}": f"page JS training step, {w} worker thread{'s' * (w > 1)}" for w in workers},
             "torch_1_thread": "PyTorch training step, 1 thread (baseline)"}
    if args.browser:
        names.update({"chromium_forward": "Chromium: page JS, forward pass only (baseline)",
                      "chromium_main_thread": "Chromium: training step, main thread (no workers)",
                      **{f"chromium_workers_{w}": f"Chromium: training step, {w} Web Worker{'s' * (w > 1)}"
                         for w in workers}})
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\n{args.model}, batch {args.batch}, `fast` recipe (Adam, one-cycle); samples a second, median of "
          f"{args.rounds} rounds; Node {version}")
    print(f"{'':58} {'samples/s':>10} {'x forward':>10} {'x torch':>8} {'per CPU s':>10}  "
          "(x forward: against the same engine's)")
    for key, label in names.items():
        forward = median["chromium_forward" if key.startswith("chromium_") else "forward"]
        per_cpu = f"{median[f'cpu_{key}']:10,.0f}" if f"cpu_{key}" in median else f"{'':10}"
        print(f"{label:58} {median[key]:10,.0f} {median[key] / forward:10.2f} "
              f"{median[key] / median['torch_1_thread']:8.2f} {per_cpu}")
    for where in ("", "chromium_") if args.browser else ("",):
        if len(workers) > 1 and 1 in workers:
            ratio = median[f"{where}workers_{workers[-1]}"] / median[f"{where}workers_1"]
            print(f"{where or 'node_'}{workers[-1]} workers / 1 worker: {ratio:.2f}")


if __name__ == "__main__":
    main()
