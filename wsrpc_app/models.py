"""Who may subscribe or publish to which topics, managed in the Django admin."""

from __future__ import annotations

import django
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .core.errors import NoSuchTopic
from .core.topics import MAX_LENGTH, validate_pattern

__all__ = ["Topic", "TopicPermission", "MAX_HISTORY_SIZE", "MAX_HISTORY_TTL"]

#: The most events one topic's history may keep, and the longest it may keep them (30 days).
MAX_HISTORY_SIZE = 100_000
MAX_HISTORY_TTL = 30 * 24 * 3600


def validate_topic_name(value: str) -> None:
    try:
        validate_pattern(value)
    except NoSuchTopic as exc:
        raise ValidationError(
            _("Not a valid topic or pattern: %(reason)s."), code="invalid_topic", params=exc.data
        ) from None


# CheckConstraint's ``check`` became ``condition`` in Django 5.1.
_CONDITION = {
    "condition" if django.VERSION >= (5, 1) else "check": (
        Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False)
    )
}


class Topic(models.Model):
    """A topic or AMQP-style pattern and what everyone may do on it.

    A grant on a pattern covers every topic it matches.
    """

    name = models.CharField(
        _("name"),
        max_length=MAX_LENGTH,
        unique=True,
        validators=[validate_topic_name],
        help_text=_(
            "A topic (chat.lobby) or a pattern: * stands for one segment, # for any number (sensors.*.temp, chat.#)."
        ),
    )
    description = models.TextField(_("description"), blank=True)
    anonymous_subscribe = models.BooleanField(
        _("anyone may subscribe"), default=False, help_text=_("Logged in or not.")
    )
    anonymous_publish = models.BooleanField(_("anyone may publish"), default=False, help_text=_("Logged in or not."))
    authenticated_subscribe = models.BooleanField(_("any logged-in user may subscribe"), default=False)
    authenticated_publish = models.BooleanField(_("any logged-in user may publish"), default=False)
    history_size = models.PositiveIntegerField(
        _("history size"),
        default=0,
        validators=[MaxValueValidator(MAX_HISTORY_SIZE)],
        help_text=_(
            "How many of the latest events subscribers can recover after a reconnect; 0 keeps no history. "
            "The most specific row covering a topic decides."
        ),
    )
    history_ttl = models.PositiveIntegerField(
        _("history lifetime"),
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HISTORY_TTL)],
        help_text=_("Seconds an event stays recoverable."),
    )
    presence = models.BooleanField(
        _("presence"),
        default=False,
        help_text=_(
            "Whoever may subscribe may list the topic's subscribers (rpc.presence) and count them "
            "(rpc.presence_stats). The most specific row covering a topic decides."
        ),
    )
    join_leave = models.BooleanField(
        _("join and leave events"),
        default=False,
        help_text=_("Subscribers receive rpc.join and rpc.leave when others subscribe and unsubscribe."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.name


class TopicPermission(models.Model):
    """A grant on a topic to one user or one group."""

    topic = models.ForeignKey(Topic, models.CASCADE, related_name="permissions", verbose_name=_("topic"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="wsrpc_topic_permissions",
        verbose_name=_("user"),
    )
    group = models.ForeignKey(
        "auth.Group",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="wsrpc_topic_permissions",
        verbose_name=_("group"),
    )
    can_subscribe = models.BooleanField(_("may subscribe"), default=False)
    can_publish = models.BooleanField(_("may publish"), default=False)

    class Meta:
        verbose_name = _("topic permission")
        verbose_name_plural = _("topic permissions")
        constraints = [
            models.CheckConstraint(
                **_CONDITION,  # type: ignore[arg-type]
                name="wsrpc_topicpermission_user_xor_group",
                violation_error_message=_("Choose exactly one of a user or a group."),
            ),
        ]

    def __str__(self) -> str:
        who = self.user if self.user_id else self.group
        return f"{who} on {self.topic}"

    def clean(self) -> None:
        if (self.user_id is None) == (self.group_id is None):
            raise ValidationError(_("Choose exactly one of a user or a group."), code="user_xor_group")
