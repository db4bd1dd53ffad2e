"""``python -m pve_sim --scenario FILE|demo [--listen HOST:PORT] [--tls]``.

Prints one line ``listening on <URL>`` on stdout when ready (and a second one,
``pbs listening on <URL>``, when the scenario has a ``pbs`` key), then serves until
SIGTERM or SIGINT. ``--generate nodes=N,guests=N,jobs=N,days=N,seed=N`` serves a generated
cluster instead (or writes it as YAML with ``--output FILE`` and exits); ``--ground-truth
FILE`` also writes what the check must say about each of its guests (JSON), for a
generated cluster or the demo.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from pve_sim.scenario import Scenario, ScenarioError, load_scenario
from pve_sim.server import Simulator
from pve_sim.tls import TlsError


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pve_sim",
        description="Serve a simulated Proxmox VE API (read-only) for tests and demos.",
    )
    parser.add_argument("--scenario", default=None, help="scenario YAML file, or 'demo' (default)")
    parser.add_argument(
        "--generate",
        metavar="SPEC",
        help="serve a generated cluster: nodes=N,guests=N,jobs=N,days=N,seed=N "
        "(see docs/simulator.md)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="with --generate: write the scenario as YAML and exit"
    )
    parser.add_argument(
        "--ground-truth",
        metavar="FILE",
        help="with --generate or the demo: also write the generator's ground truth per "
        "guest (JSON)",
    )
    parser.add_argument(
        "--latency-ms", type=int, default=None, metavar="MS", help="added to every request"
    )
    parser.add_argument(
        "--cache-answers",
        action="store_true",
        help="build each answer once (scenario with a fixed now; not task logs): for "
        "benchmarks, so that the simulator's own CPU does not slow the client down",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="never compress answers (as COMPRESSION=0 in /etc/default/pveproxy); by "
        "default an answer over 1024 bytes is sent gzip-compressed when the client accepts it",
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
    wrong = _conflict(args)
    if wrong is not None:
        print(f"error: {wrong}", file=sys.stderr)
        return 2
    try:
        if args.generate is not None:
            scenario = _generated(args.generate, args.output, args.ground_truth)
            if scenario is None:
                return 0
        elif args.ground_truth is not None:
            scenario = _demo_with_truth(args.ground_truth)
        else:
            scenario = load_scenario(args.scenario or "demo")
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host, port = args.listen
    sim = Simulator(
        scenario, tls=args.tls, cert=args.cert, key=args.key, host=host, port=port,
        latency_ms=args.latency_ms, verbose=args.verbose, cache_answers=args.cache_answers,
        compression=not args.no_compression,
    )  # fmt: skip
    return _serve(sim)


def _conflict(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of options, if anything."""
    if (args.cert is None) != (args.key is None):
        return "--cert and --key go together"
    if args.generate is not None and args.scenario is not None:
        return "give --scenario or --generate, not both"
    if args.output is not None and args.generate is None:
        return "--output goes with --generate"
    demo = args.scenario in (None, "demo")
    if args.ground_truth is not None and args.generate is None and not demo:
        return "--ground-truth goes with --generate or the demo"
    return None


def _serve(sim: Simulator) -> int:
    """Serve until SIGTERM or SIGINT; the URLs on stdout, the rest on stderr."""
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
        if sim.pbs_token_id is not None:
            print(f"PBS API token id {sim.pbs_token_id}", file=sys.stderr)
        print(f"listening on {sim.url}", flush=True)
        if sim.pbs_url is not None:
            print(f"pbs listening on {sim.pbs_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


def _write_truth(generated: object, path: str) -> None:
    import json
    from pathlib import Path

    from pve_sim.truth import truth_document

    text = json.dumps(truth_document(generated), indent=1, sort_keys=True)
    Path(path).write_text(text + "\n", encoding="utf-8")


def _demo_with_truth(truth: str) -> Scenario:
    """The demo, its ground truth written to ``truth`` first."""
    from pve_sim.demo import demo_cluster

    generated = demo_cluster()
    _write_truth(generated, truth)
    return Scenario.from_dict(generated.data, source="demo")


def _generated(spec_text: str, output: str | None, truth: str | None) -> Scenario | None:
    """The generated scenario, or None once written to ``output``; its ground truth is
    written to ``truth`` first."""
    from pathlib import Path

    from pve_sim.generate import generate_cluster, parse_spec
    from pve_sim.synth import dump_scenario

    spec = parse_spec(spec_text)
    generated = generate_cluster(spec)
    data = generated.data
    if truth is not None:
        _write_truth(generated, truth)
    if output is not None:
        header = f"GENERATED by: python -m pve_sim --generate {spec.as_text()}"
        Path(output).write_text(dump_scenario(data, header), encoding="utf-8")
        return None
    return Scenario.from_dict(data, source=f"generated {spec.as_text()}")


if __name__ == "__main__":
    sys.exit(main())
