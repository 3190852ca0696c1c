#!/usr/bin/env python3
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""Forward TCP connections from LISTEN_HOST (a port the OS picks) to TARGET_HOST:TARGET_PORT.

The real-k3d tests use it twice: to let the stand-in load balancer, inside a container network,
reach the control plane that listens on the host's loopback only (LISTEN_HOST is the network's
gateway address), and, with --delay, as a slow registry, to give k3d a cold image pull.

Usage: tcp-forward.py LISTEN_HOST TARGET_HOST:TARGET_PORT [--port PORT] [--delay SECONDS]
                      [--port-file FILE]
Prints "listening on HOST:PORT" (and writes PORT to FILE) once it accepts connections; runs
until killed.
"""
import argparse
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen_host")
    parser.add_argument("target")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each connection waits before it is forwarded")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: one the OS picks)")
    parser.add_argument("--port-file")
    args = parser.parse_args()
    target_host, _, target_port = args.target.rpartition(":")

    async def handle(client_reader, client_writer):
        if args.delay:
            await asyncio.sleep(args.delay)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(target_host, int(target_port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, args.listen_host, args.port)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write("%d\n" % port)
    print("listening on %s:%d" % (args.listen_host, port), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
