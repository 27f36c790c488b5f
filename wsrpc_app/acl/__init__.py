"""Who may subscribe or publish to which topic: the ``Topic`` rows, cached, and kept fresh."""

__all__: list[str] = []
