"""Every topic contract: schemas match the models, examples validate and round-trip."""

from __future__ import annotations

import json

import jsonschema
import pytest

from alpr.contracts.registry import Topic, decode, headers_to_dict, load_registry, render_schema
from alpr.errors import ContractError

REGISTRY = load_registry()
EXAMPLES = [(c, path) for c in REGISTRY.values() for path in sorted(c.examples_dir.glob("*.json"))]

REQUIRED_TOPICS = {
    Topic.FRAMES,
    Topic.READS,
    Topic.PAYMENTS,
    Topic.OCCUPANCY,
    Topic.REVENUE_MATCHES,
    Topic.VIOLATIONS,
    Topic.AUDIT,
    Topic.HOLDS,
}


def validator(c):
    schema = json.loads(c.schema_path.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_registry_has_every_topic_and_a_dlq_for_each_consumed_one():
    assert REQUIRED_TOPICS <= set(REGISTRY)
    for c in REGISTRY.values():
        if c.topic in REQUIRED_TOPICS and c.consumers and c.consumers[0].startswith("services/"):
            assert c.dlq in REGISTRY, f"{c.topic} is consumed by a service but has no DLQ"
    assert REGISTRY[Topic.FRAMES].partitions == 12 and REGISTRY[Topic.READS].partitions == 12


@pytest.mark.parametrize("c", REGISTRY.values(), ids=lambda c: c.topic)
def test_committed_schema_is_the_models_schema(c):
    assert c.schema_path.read_text() == render_schema(c), "run `alpr topics export-schemas` and commit"
    schema = json.loads(c.schema_path.read_text())
    assert schema["additionalProperties"] is False and schema["required"]


@pytest.mark.parametrize("c", REGISTRY.values(), ids=lambda c: c.topic)
def test_every_topic_has_examples(c):
    assert list(c.examples_dir.glob("*.json")), f"no example for {c.topic}"


@pytest.mark.parametrize("c,path", EXAMPLES, ids=lambda x: getattr(x, "name", getattr(x, "topic", "")))
def test_example_validates_and_round_trips(c, path):
    body = json.loads(path.read_text())
    validator(c).validate(body)
    if c.payload == "headers":
        wire_headers = [(k.replace("_", ".") if k.startswith("dlq_") else k, str(v).encode()) for k, v in body.items()]
        assert headers_to_dict(wire_headers) == {k: str(v) for k, v in body.items()}
        model = decode(c, b"\xff\xd8jpeg", wire_headers)
    else:
        model = decode(c, json.dumps(body).encode())
    dumped = json.loads(model.model_dump_json())
    validator(c).validate(dumped)
    assert c.model_class.model_validate(dumped) == model


@pytest.mark.parametrize("c,path", EXAMPLES, ids=lambda x: getattr(x, "name", getattr(x, "topic", "")))
def test_schema_and_model_reject_broken_examples(c, path):
    body = json.loads(path.read_text())
    extra = {**body, "unexpected_field": 1}
    missing = dict(body)
    missing.pop(next(iter(c.model_class.model_fields)))
    for broken in (extra, missing):
        assert not validator(c).is_valid(broken)
        with pytest.raises(ContractError):
            if c.payload == "headers":
                decode(c, b"", [(k, str(v).encode()) for k, v in broken.items()])
            else:
                decode(c, json.dumps(broken).encode())


def test_decode_reports_the_field_and_reason():
    with pytest.raises(ContractError, match=r"plate"):
        body = json.loads((REGISTRY[Topic.PAYMENTS].examples_dir / "pay-by-plate.json").read_text())
        decode(REGISTRY[Topic.PAYMENTS], json.dumps({**body, "plate": "8 AB'C;--"}).encode())
    with pytest.raises(ContractError, match="amount_cents"):
        decode(REGISTRY[Topic.PAYMENTS], json.dumps({**body, "amount_cents": -5}).encode())
    with pytest.raises(ContractError):
        decode(REGISTRY[Topic.READS], b"\x00not json")
