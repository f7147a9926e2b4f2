"""A page of its own for the page's training code in Chromium, without the app: the page's
training scripts inlined (as page_assets inlines the pad's), and ``window.trainingWorkerUrl``, a
Blob URL of a worker made from the same scripts and train_worker.js, as the page makes its Web
Workers. Playwright answers the page's one request; nothing else is fetched."""

from __future__ import annotations

from pathlib import Path

from mnist_demo.page_assets import TRAINING_SCRIPTS  # what the page and each worker load, in order

PAGE = Path(__file__).resolve().parents[2] / "mnist_demo" / "page"
URL = "http://page-training.invalid/"


def training_page(browser, extra_scripts: tuple[str, ...] = ()):
    """A new page holding MnistTrain, MnistOptim, MnistTrainer, MnistAugment, MnistWeights, then
    ``extra_scripts`` (source texts), and ``trainingWorkerUrl``. The caller closes it."""
    scripts = [(PAGE / name).read_text(encoding="utf-8") for name in TRAINING_SCRIPTS]
    worker = "\n".join([*scripts, (PAGE / "train_worker.js").read_text(encoding="utf-8")])
    page_scripts = [*scripts, (PAGE / "weights.js").read_text(encoding="utf-8"), *extra_scripts]
    html = "<!doctype html><meta charset=utf-8><title>page training</title>" + "".join(
        f"<script>{text}</script>" for text in page_scripts)
    page = browser.new_page()
    page.route(URL, lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(URL)
    page.evaluate("""(source) => {
      window.trainingWorkerUrl = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
    }""", worker)
    return page
