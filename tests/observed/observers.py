"""The observer of the tests: articles, by id and all together, with their tags; ``views`` changes are quiet."""

from __future__ import annotations

from django.test import RequestFactory

from wsrpc_app.observers import observe

from .models import Article
from .serializers import ArticleSerializer

#: Hyperlinks as the REST API gives them to a request for http://testserver/.
CONTEXT = {"request": RequestFactory().get("/")}

articles = observe(
    Article,
    topic="articles",
    also="articles.{pk}",
    serializer=ArticleSerializer,
    fields=["title", "status", "price", "published"],
    m2m=True,
    context=CONTEXT,
)
