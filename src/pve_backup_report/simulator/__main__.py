"""``python -m pve_backup_report.simulator --scenario FILE|demo [--listen HOST:PORT] [--tls]``.

Prints exactly one line ``listening on <URL>`` on stdout when ready, then serves until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from pve_backup_report.simulator.scenario import ScenarioError, load_scenario
from pve_backup_report.simulator.server import Simulator
from pve_backup_report.simulator.tls import TlsError


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pve_backup_report.simulator",
        description="Serve a simulated Proxmox VE API (read-only) for tests and demos.",
    )
    parser.add_argument(
        "--scenario", default="demo", help="scenario YAML file, or 'demo' (default)"
    )
    parser.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="address to listen on; port 0 picks a free port (default 127.0.0.1:0)",
    )
    parser.add_argument("--tls", action="store_true", help="serve HTTPS")
    parser.add_argument("--cert", help="server certificate (PEM); implies --tls")
    parser.add_argument("--key", help="private key of --cert (PEM)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if (args.cert is None) != (args.key is None):
        print("error: --cert and --key go together", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host, port = args.listen
    sim = Simulator(
        scenario,
        tls=args.tls,
        cert=args.cert,
        key=args.key,
        host=host,
        port=port,
        verbose=args.verbose,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        sim.start()
    except (TlsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if sim.ca_path is not None:
            print(f"CA certificate written to {sim.ca_path}", file=sys.stderr)
        if sim.fingerprint is not None:
            print(f"server certificate fingerprint {sim.fingerprint}", file=sys.stderr)
        print(f"API token id {sim.token_id} (secret as given in the scenario)", file=sys.stderr)
        print(f"listening on {sim.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
