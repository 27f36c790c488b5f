"""The HTTP endpoints, on Django REST framework."""

__all__: list[str] = []
