"""The shared to-do list, and its topics: anyone may watch ``todos`` and ``todos.<id>``."""

from django.db import migrations, models

TOPICS = {
    "todos": "The shared to-do list's changes (an observer publishes them): anyone may watch.",
    "todos.*": "One to-do item's changes: anyone may watch.",
}


def create(apps, schema_editor):
    Topic = apps.get_model("wsrpc_app", "Topic")
    for name, description in TOPICS.items():
        Topic.objects.get_or_create(name=name, defaults={"description": description, "anonymous_subscribe": True})


def remove(apps, schema_editor):
    apps.get_model("wsrpc_app", "Topic").objects.filter(name__in=list(TOPICS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("demo_project", "0001_demo_topics"),
        ("wsrpc_app", "0001_topics"),
    ]

    operations = [
        migrations.CreateModel(
            name="TodoItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200, verbose_name="title")),
                ("done", models.BooleanField(default=False, verbose_name="done")),
                ("created", models.DateTimeField(auto_now_add=True, verbose_name="created")),
            ],
            options={
                "verbose_name": "to-do item",
                "ordering": ["created", "id"],
            },
        ),
        migrations.RunPython(create, remove),
    ]
