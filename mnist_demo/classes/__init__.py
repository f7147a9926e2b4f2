"""The class mode, split by page: a teacher starts a class, students join by link or code, what
they keep also goes to the class, the projector wall shows it, and the class trains its own model.

- ``store.py``: everything a class owns, in SQLite (no Gradio, no torch: the host's CLI reads it);
- ``views.py``: what a class looks like, as HTML (pure functions);
- ``addresses.py``: the addresses the links are made from, and who is asking;
- ``student.py``: a student's page: joining, leaving, keeps sent to the class, the class's model;
- ``teacher.py``: the teacher's controls: start, links, moderation, the paused wall, export, end;
- ``training.py``: the class's own model: trained on its drawings, its figures, given to the class;
- ``wall.py``: the projector wall;
- ``tab.py``: the Class tab's layout, the components the handlers update, and the wiring;
- ``host.py``: the host's commands (``python -m mnist_demo.class_host``).

Kept empty of code: importing the store must not bring Gradio or torch.
"""
