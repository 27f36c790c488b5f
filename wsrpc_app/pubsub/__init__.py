"""Topics over the channel layer: subscriptions, fan-out and publishing."""

__all__: list[str] = []
