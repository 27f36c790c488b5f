from __future__ import annotations

from django.urls import include, path

from tests.urls import urlpatterns as base

from . import views

urlpatterns = [
    *base,
    path("observed/api/", include(views.router.urls)),
    path("observed/create-and-retitle/", views.create_and_retitle),
    path("observed/create-then-fail/", views.create_then_fail),
]
