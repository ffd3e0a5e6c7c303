"""Pictures people can look at: the GIF, JPEG and PNG helpers every stage's previews use, and the
per-video ``summary.txt`` and ``report.html`` (:mod:`shared.previews.report`).

The stages draw their own pictures (``functions/<stage>/previews.py``) with these helpers:
Pillow composes and encodes every GIF and JPEG, matplotlib draws the plots (Agg backend, a
writable config dir: :func:`use_matplotlib`), Jinja2 renders the report with autoescaping on
(docs/previews.md).
"""
