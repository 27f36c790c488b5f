"""The WebSocket server: the consumer, the connection a method sees, and their wiring to Django."""

__all__: list[str] = []
