"""The host's commands for classes: list them, print a class's links, end a class, delete expired ones.

    python -m mnist_demo.class_host list
    python -m mnist_demo.class_host teacher-link KX47PD --url http://192.168.1.20:7860
    python -m mnist_demo.class_host end KX47PD

Only the entry point: the commands are in classes/host.py, and no module imports this one (a module
run as ``-m`` and imported too would be loaded twice; tests/test_imports.py holds it).
"""

import sys

from .classes.host import main

if __name__ == "__main__":
    sys.exit(main())
