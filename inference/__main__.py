"""``python -m inference serve --region us`` runs the region's inference service (ASR, TTS);
``python -m inference llm --region us`` runs its LLM server."""

from __future__ import annotations

import argparse
import logging
import sys

from callseal.regions import RegionConfigError
from inference.assets import ModelMissing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("serve", "ASR and TTS over WebSockets, /healthz"),
        ("llm", "the OpenAI-compatible LLM server (llama.cpp)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--region", required=True)
        command.add_argument("--host", help="default: the host of the region's URL")
        command.add_argument("--port", type=int, help="default: the port of the region's URL")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if args.command == "serve":
            from inference.config import ServiceConfig
            from inference.server import serve

            serve(ServiceConfig.from_env(region=args.region, host=args.host, port=args.port))
        else:
            from inference.llm_server import exec_llm_server

            exec_llm_server(region=args.region, host=args.host, port=args.port)
    except (RegionConfigError, ModelMissing) as exc:
        print(f"inference: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
