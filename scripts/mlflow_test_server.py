#!/usr/bin/env python3
"""A real MLflow tracking server for tests and benchmarks: `mlflow server` on 127.0.0.1.

    mlflow_test_server.py start --dir DIR [--no-serve-artifacts]
        Starts `mlflow server` (the one installed next to this python) with a sqlite backend DIR/mlflow.db and,
        unless --no-serve-artifacts, an artifact proxy over DIR/artifacts, on a free port of 127.0.0.1 with
        --workers 1, as a detached process (its own session; output to DIR/mlflow-PORT.log). Waits until
        GET /health answers (10-20 s here). Prints one line of JSON on stdout: {"pid", "port", "uri", "log"}
        and exits 0, leaving the server running. On failure: the log's tail on stderr, the server killed, exit 1.

    mlflow_test_server.py stop PID
        SIGTERM to the server's process group, SIGKILL after 10 s; returns once the process is gone.

    mlflow_test_server.py query URI
        Reads a Python snippet on stdin and runs it with `client` (an MlflowClient for URI), `mlflow`, `json`,
        `os` and `sys` imported: the tests check what the server holds through MLflow's own client.

Needs a python with mlflow (run this script with it: the server is started with the same environment).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

READY_TIMEOUT_S = 120.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def stop(pid):
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not alive(pid):
                return
            time.sleep(0.1)


def start(directory, serve_artifacts):
    os.makedirs(directory, exist_ok=True)
    port = free_port()
    log_path = os.path.join(directory, f"mlflow-{port}.log")
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    arguments = [
        mlflow, "server",
        "--backend-store-uri", f"sqlite:///{os.path.join(directory, 'mlflow.db')}",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    if serve_artifacts:
        arguments += ["--artifacts-destination", os.path.join(directory, "artifacts"), "--serve-artifacts"]
    else:
        arguments += ["--default-artifact-root", os.path.join(directory, "artifacts"), "--no-serve-artifacts"]
    environment = dict(os.environ)
    # The server must not export to itself, nor read a developer's credentials.
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                 "MLFLOW_TRACKING_PASSWORD"):
        environment.pop(name, None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=environment, cwd=directory)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + READY_TIMEOUT_S
    while time.time() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(uri + "/health", timeout=2) as response:
                if response.status == 200:
                    print(json.dumps({"pid": process.pid, "port": port, "uri": uri, "log": log_path}))
                    return 0
        except OSError:
            pass
        time.sleep(0.5)
    stop(process.pid)
    with open(log_path, "rb") as log:
        tail = log.read()[-4000:].decode("utf-8", "replace")
    print(f"mlflow server did not become healthy within {READY_TIMEOUT_S:.0f} s; log tail:\n{tail}",
          file=sys.stderr)
    return 1


def query(uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    code = sys.stdin.read()
    exec(compile(code, "<query>", "exec"), {"client": client, "mlflow": mlflow, "json": json, "os": os,
                                              "sys": sys, "uri": uri})
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start")
    start_parser.add_argument("--dir", required=True)
    start_parser.add_argument("--no-serve-artifacts", action="store_true")
    stop_parser = commands.add_parser("stop")
    stop_parser.add_argument("pid", type=int)
    query_parser = commands.add_parser("query")
    query_parser.add_argument("uri")
    arguments = parser.parse_args()
    if arguments.command == "start":
        return start(arguments.dir, not arguments.no_serve_artifacts)
    if arguments.command == "stop":
        stop(arguments.pid)
        return 0
    return query(arguments.uri)


if __name__ == "__main__":
    sys.exit(main())
