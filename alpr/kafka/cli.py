"""`alpr kafka start|stop|status`: the local broker."""

from __future__ import annotations

from alpr.output import emit


def _broker():
    from alpr.kafka.broker import BrokerSettings, LocalBroker
    from alpr.settings import load_settings

    return LocalBroker(load_settings(BrokerSettings))


def _start(args) -> int:
    status = _broker().start()
    print(f"kafka: running, pid {status.pid}, bootstrap {status.bootstrap}, log {status.log}")
    return 0


def _stop(args) -> int:
    stopped = _broker().stop()
    print("kafka: stopped" if stopped else "kafka: was not running")
    return 0


def _status(args) -> int:
    s = _broker().status()
    if args.json:
        emit({"running": s.running, "healthy": s.healthy, "pid": s.pid, "bootstrap": s.bootstrap})
    else:
        print(f"kafka: {'running' if s.running else 'stopped'}{', healthy' if s.healthy else ''}"
              f"{f', pid {s.pid}' if s.pid else ''}, bootstrap {s.bootstrap}")
    return 0 if s.healthy else 1


def register(sub) -> None:
    kafka = sub.add_parser("kafka", help="start, stop or check the local Kafka broker (KRaft, Maven Central jars)")
    ops = kafka.add_subparsers(dest="op", required=True)
    ops.add_parser("start", help="fetch jars if needed, start, wait until healthy").set_defaults(handler=_start)
    ops.add_parser("stop", help="stop the broker and wait until the process is gone").set_defaults(handler=_stop)
    st = ops.add_parser("status", help="running/healthy; exit 1 when not healthy")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=_status)
