"""MNIST Draw & Train: `python app.py [--host H] [--port P] [--share]`."""

import argparse
import dataclasses

# Torch- and Gradio-free, so that --help and a wrong flag still answer at once; the one place this
# app's settings (GRADIO_SERVER_NAME/PORT among them) are read from the environment.
from mnist_demo.settings import Settings, from_process

DESCRIPTION = (
    "MNIST Draw & Train: a web app where you draw a digit and the PyTorch MNIST tutorial's linear model and "
    "CNN read it as you draw; keep your own digits, retrain or fine-tune either model, and run a class. "
    "It serves at http://HOST:PORT/. Everything else is set by environment variables (MNIST_DIR for "
    "local MNIST files, caps on trainings, classes...), listed in docs/settings.md."
)


def parser(settings: Settings = Settings) -> argparse.ArgumentParser:
    """``settings``: where the defaults come from (the class itself holds the built-in ones)."""
    p = argparse.ArgumentParser(prog="python app.py", description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--host", default=settings.host,
                   help="address to listen on: 0.0.0.0 serves the other machines on your network (a class on "
                        "the LAN) and prints the addresses they open; $GRADIO_SERVER_NAME, when set, is the default")
    p.add_argument("--port", type=int, default=settings.port,
                   help="port to listen on; $GRADIO_SERVER_PORT, when set, is the default")
    p.add_argument("--share", action="store_true",
                   help="also open a public gradio.live link, reachable from anywhere (Gradio's tunnel)")
    return p


SETTINGS = from_process()  # docs/settings.md lists the variables; a bad value stops here, named
if __name__ == "__main__":
    args = parser(SETTINGS).parse_args()  # --help and a wrong flag answer at once, before torch and Gradio load
    # The command line wins: serving the LAN (a class's join link) follows the --host it starts with.
    SETTINGS = dataclasses.replace(SETTINGS, host=args.host, port=args.port)

# The imports come after the command line, on purpose (E402).
import spaces  # noqa: E402, F401  first, as ZeroGPU asks: there it patches torch (mnist_demo/gpu.py)
import torch  # noqa: E402

from mnist_demo import downloads, lan  # noqa: E402
from mnist_demo.ui import LAUNCH_OPTIONS, build_demo, queued  # noqa: E402

# The serving process's share of torch's threads per training, set once before any worker thread
# exists (then every thread computes alike), at module level so that every way of serving this
# file (python app.py, gradio app.py, a Space) gets it: trainings side by side must not
# oversubscribe the CPUs.
torch.set_num_threads(SETTINGS.training_threads)
downloads.reset()  # a previous run's download files (even one killed with -9) go
demo = build_demo(settings=SETTINGS)

if __name__ == "__main__":
    if SETTINGS.serving_lan:  # a laptop serving a class: say where students should go
        urls = lan.lan_urls(SETTINGS.port)
        print("Students on this network can open: " + (", ".join(urls) if urls else
              f"http://<this computer's address>:{SETTINGS.port}/ (no network address found)"), flush=True)
    queued(demo, SETTINGS).launch(server_name=SETTINGS.host, server_port=SETTINGS.port,
                                                 share=args.share, **LAUNCH_OPTIONS)
