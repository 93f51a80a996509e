"""The camera registry: the demo file is valid, and every mistake is one line naming the problem."""

from __future__ import annotations

import pytest
import yaml

from alpr.cameras import Registry, hash_token, load_registry, new_token
from alpr.errors import ConfigError
from alpr.settings import REPO_ROOT
from services.ingest.settings import IngestSettings

DEMO = REPO_ROOT / "infra" / "cameras.demo.yaml"


def test_demo_registry_has_a_facility_with_entry_exit_and_patrol_cameras():
    registry = load_registry(DEMO)
    assert IngestSettings.model_fields["cameras_file"].default == DEMO
    assert registry.facility("garage-1").capacity > 0
    assert {c.direction for c in registry.cameras} == {"entry", "exit", "patrol"}
    entry = registry.camera("cam-g1-entry-1")
    assert entry.source_path(registry.base_dir) == REPO_ROOT / "var" / "footage" / "cam-g1-entry-1.mp4"
    patrol = registry.camera("cam-g1-patrol-1")
    assert patrol.accepts_uploads and patrol.token_matches("demo-patrol-token-not-a-secret")
    assert not patrol.token_matches("demo-patrol-token-not-a-secret ") and not entry.token_matches("anything")
    assert "demo-patrol-token-not-a-secret" not in DEMO.read_text().split("only its SHA-256")[1]


def test_new_tokens_are_stored_as_digests():
    token, digest = new_token()
    assert len(token) >= 40 and digest == hash_token(token) and token not in digest


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda r: r["cameras"][0].update(colour="red"), "colour: Extra inputs are not permitted"),
        (lambda r: r["cameras"][0].update(facility_id="garage-9"), "facility garage-9 is not in facilities"),
        (lambda r: r["cameras"].append(dict(r["cameras"][0])), "camera_id cam-g1-entry-1 appears twice"),
        (lambda r: r["cameras"][0].update(direction="sideways"), "cameras.0.direction"),
        (lambda r: r["cameras"][2].update(upload_token_sha256="plain-token"), "upload_token_sha256"),
        (lambda r: r["cameras"][0].update(roi=[[0, 0], [10, 10]]), "cameras.0.roi"),
        (lambda r: r["cameras"][0].update(fps_cap=0), "cameras.0.fps_cap"),
        (lambda r: r["facilities"][0].pop("capacity"), "facilities.0.capacity"),
    ],
)
def test_a_bad_registry_is_refused_with_one_line(tmp_path, mutate, needle):
    raw = yaml.safe_load(DEMO.read_text())
    mutate(raw)
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    assert needle in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_and_non_yaml_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_registry(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("cameras: [unclosed")
    with pytest.raises(ConfigError, match="not YAML"):
        load_registry(tmp_path / "bad.yaml")


def test_stream_credentials_never_reach_the_status_page():
    raw = yaml.safe_load(DEMO.read_text())
    raw["cameras"][0]["source"] = "rtsp://admin:hunter2@10.0.0.5:554/stream1?token=x"
    camera = Registry.model_validate(raw).cameras[0]
    assert camera.is_stream and camera.public_source() == "rtsp://10.0.0.5:554/stream1"
