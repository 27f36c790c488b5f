"""Views that change articles, for requests under ``ATOMIC_REQUESTS``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import permissions, routers, viewsets

from .models import Article
from .serializers import ArticleSerializer


class ArticleViewSet(viewsets.ModelViewSet):
    queryset = Article.objects.all()
    serializer_class = ArticleSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []


def create_and_retitle(request: HttpRequest) -> HttpResponse:
    """Creates an article and saves it again under another title: one request, one transaction."""
    article = Article.objects.create(title=request.GET["title"])
    article.title = request.GET["then"]
    article.save()
    return JsonResponse({"id": article.pk})


class Refused(Exception):
    pass


def create_then_fail(request: HttpRequest) -> HttpResponse:
    """Creates an article, then fails: ``ATOMIC_REQUESTS`` rolls the article back."""
    Article.objects.create(title=request.GET["title"])
    raise Refused("after the save")


router = routers.DefaultRouter()
router.register("articles", ArticleViewSet)
