"""The demo's topics: ``chat.lobby`` open to all, ``news`` read by all and written by staff."""

from django.db import migrations


def create(apps, schema_editor):
    Topic = apps.get_model("wsrpc_app", "Topic")
    TopicPermission = apps.get_model("wsrpc_app", "TopicPermission")
    Group = apps.get_model("auth", "Group")
    Topic.objects.get_or_create(
        name="chat.lobby",
        defaults={
            "description": "The open chat room: anyone may read and write.",
            "anonymous_subscribe": True,
            "anonymous_publish": True,
        },
    )
    news, _ = Topic.objects.get_or_create(
        name="news",
        defaults={"description": "Announcements: anyone may read; the staff group writes.", "anonymous_subscribe": True},
    )
    staff, _ = Group.objects.get_or_create(name="staff")
    TopicPermission.objects.get_or_create(topic=news, group=staff, defaults={"can_subscribe": True, "can_publish": True})


def remove(apps, schema_editor):
    apps.get_model("wsrpc_app", "Topic").objects.filter(name__in=["chat.lobby", "news"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("wsrpc_app", "0001_topics"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, remove)]
