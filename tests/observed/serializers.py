"""The articles' REST form; it counts its renderings, so tests see how often a change is serialized."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import Article


class ArticleSerializer(serializers.ModelSerializer):
    renders = 0

    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="article-detail")

    class Meta:
        model = Article
        fields = ["id", "url", "title", "status", "price", "published", "tags"]

    def to_representation(self, instance: Article) -> Any:
        type(self).renders += 1
        return super().to_representation(instance)
