"""Ingest test helpers: small videos, a registry of test cameras, settings, reading the frames topic."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from confluent_kafka import Consumer

from alpr.auth import issue_token
from alpr.cameras import Registry, hash_token
from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from alpr.settings import PLACEHOLDER_SECRET
from services.ingest.settings import IngestSettings

UPLOAD_TOKEN = "test-upload-token-0123456789"
START = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def write_video(
    path: Path, frames: int, fps: float = 4.0, size: tuple[int, int] = (320, 180), moving: bool = True
) -> Path:
    """An mp4v video whose frames all differ (a square moving across) unless `moving` is False."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for i in range(frames):
        img = np.full((h, w, 3), 90, np.uint8)
        x = (i * 13) % (w - 40) if moving else 10
        cv2.rectangle(img, (x, h // 3), (x + 40, h // 3 + 40), (240, 240, 240), -1)
        writer.write(img)
    writer.release()
    return path


def jpeg(width: int = 320, height: int = 180, quality: int = 85, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def registry(source: str | None = None, stream_url: str | None = None, **camera_fields) -> Registry:
    cameras = [
        {
            "camera_id": "cam-up",
            "facility_id": "g1",
            "lane": "P1",
            "direction": "patrol",
            "upload_token_sha256": hash_token(UPLOAD_TOKEN),
        },
        {"camera_id": "cam-nopush", "facility_id": "g1", "lane": "L9", "direction": "exit"},
    ]
    if source:
        cameras.append(
            {
                "camera_id": "cam-file",
                "facility_id": "g1",
                "lane": "L1",
                "direction": "entry",
                "source": source,
                "fps_cap": 30,
                "replay_start": START.isoformat(),
                **camera_fields,
            }
        )
    if stream_url:
        cameras.append(
            {"camera_id": "cam-rtsp", "facility_id": "g1", "lane": "L2", "direction": "exit", "source": stream_url}
        )
    return Registry.model_validate({"facilities": [{"facility_id": "g1", "capacity": 10}], "cameras": cameras})


def ops_auth(role: str = "operations") -> dict[str, str]:
    """A shift lead's login for the status page (the services run with the development secret here)."""
    return {"Authorization": f"Bearer {issue_token(PLACEHOLDER_SECRET, 'shift-lead', role)}"}


def settings(bootstrap: str, **overrides) -> IngestSettings:
    values = {"kafka_bootstrap": bootstrap, "environment": "test", "delivery_timeout_s": 10.0, "http_port": 0}
    values.update(overrides)
    return IngestSettings(**values)


def read_topic(bootstrap: str, topic: str, expected: int, group: str, deadline_s: float = 30.0) -> list:
    """Every message of `topic` once `expected` have arrived (or the deadline passed)."""
    consumer = Consumer(
        client_config(bootstrap, **{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    )
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(got) < expected and time.monotonic() < deadline:
            got += [m for m in consumer.consume(num_messages=500, timeout=0.5) if m.error() is None]
        # Anything beyond `expected` (a duplicate, a frame that should have been dropped) shows up too.
        got += [m for m in consumer.consume(num_messages=500, timeout=0.5) if m.error() is None]
    finally:
        consumer.close()
    return got


def closed_port() -> socket.socket:
    """A socket bound but not listening: connections to its port are refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


class Proxy:
    """A TCP forwarder that starts refusing (bound, not listening) and forwards once `open()` is called."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sock = closed_port()
        self.port = self.sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()

    def open(self) -> None:
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        for s in [self.sock, *self._conns]:
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def frames_topic(topic_factory):
    """A fresh alpr.frames.v1 topic, and the token revocations topic the service reads before it
    reports ready, under the same prefix; returns (topic, prefix)."""
    topic = topic_factory(Topic.FRAMES, partitions=3)
    topic_factory(Topic.REVOCATIONS)
    return topic, topic[: -len(Topic.FRAMES)]
