"""`alpr topics apply|list|export-schemas`: the topic registry against the broker (topics, and
on a broker with an authorizer the services' ACLs)."""

from __future__ import annotations


def _settings():
    from alpr.settings import CommonSettings, load_settings

    return load_settings(CommonSettings)


def _apply(args) -> int:
    from alpr.kafka.acls import apply_acls
    from alpr.kafka.topics import apply_topics

    settings = _settings()
    changes = apply_topics(settings.kafka_bootstrap)
    if changes.capped:
        # Said once, before the topics: what the registry asks for that this cluster cannot hold.
        print(
            f"capped    {', '.join(changes.capped)} (the cluster has {changes.brokers} "
            f"broker{'s' if changes.brokers != 1 else ''})"
        )
    for c in changes:
        print(f"{c.action:9} {c.topic}{'  ' + ', '.join(c.details) if c.details else ''}")
    acls = apply_acls(settings.kafka_bootstrap)
    if acls.skipped:
        print(f"acls      skipped: {acls.skipped}")
    else:
        for g in acls.created:
            print(f"acl       created {g}")
        print(f"acls      {len(acls.created)} created, {len(acls.unchanged)} unchanged")
        for g in acls.extra:
            print(f"acl       extra   {g} (not from the registry; remove it with kafka-acls if unwanted)")
    return 1 if any(c.action == "conflict" for c in changes) else 0


def _list(args) -> int:
    from alpr.contracts.registry import load_registry

    for c in load_registry().values():
        print(
            f"{c.topic:28} partitions={c.partitions:<3} replication={c.replication_factor}/{c.min_insync_replicas} "
            f"key={c.key.split(' ')[0]:12} owner={c.owner}"
        )
    return 0


def _export(args) -> int:
    from alpr.contracts.registry import load_registry, render_schema

    for c in load_registry().values():
        c.schema_path.write_text(render_schema(c))
        print(f"wrote {c.schema_path.name}")
    return 0


def register(sub) -> None:
    topics = sub.add_parser("topics", help="topic contracts: apply to the broker, list, export JSON Schemas")
    ops = topics.add_subparsers(dest="op", required=True)
    ops.add_parser("apply", help="create/update topics to match schemas/topics/ (idempotent)").set_defaults(
        handler=_apply
    )
    ops.add_parser("list", help="list the registry").set_defaults(handler=_list)
    ops.add_parser("export-schemas", help="write each model's JSON Schema to schemas/topics/").set_defaults(
        handler=_export
    )
