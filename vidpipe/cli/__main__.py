"""``python -m vidpipe.cli``: the same as the ``vidpipe`` console script."""

from vidpipe.cli import main

main()
