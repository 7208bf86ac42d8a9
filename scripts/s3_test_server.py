#!/usr/bin/env python3
"""A real S3-compatible server with authentication on, for tests and benchmarks: moto's server on 127.0.0.1.

    s3_test_server.py start --bucket NAME [--dir DIR]
        Starts moto's server on a free port of 127.0.0.1 as a detached process (its own session; output to
        DIR/moto-PORT.log, or a log in a new temporary directory), with INITIAL_NO_AUTH_ACTION_COUNT set so that
        only this script's setup requests are unauthenticated. Through boto3 it creates an IAM user, an access
        key for it and an inline policy allowing s3:* (moto checks the signature against the key's secret and
        then the user's IAM policies: without a policy every S3 call is AccessDenied), and the bucket; then
        checks that a request signed with a wrong secret is refused. Prints one line of JSON on stdout:
        {"pid", "port", "endpoint", "access_key_id", "secret_access_key", "region", "bucket", "log"} and exits 0,
        leaving the server running. On failure: a message on stderr, the server killed, exit 1.
        The server checks signatures against the request target as sent (see patch_moto_signature_check);
        --unpatched keeps moto's own check, which before moto 5.2.5 refuses correctly signed requests with `/` in
        a query value or `+ = & %` in a key.

    s3_test_server.py stop PID
        SIGTERM, then SIGKILL after 5 s; returns once the process is gone.

What moto (5.2.1 and 5.2.5) checks and does not: the Signature V4 of the Authorization header (a wrong secret:
403 SignatureDoesNotMatch; an unknown key id: 403 InvalidAccessKeyId; no IAM policy: 403 AccessDenied). It signs
with whatever x-amz-content-sha256 says and never compares it with the body: a real hash, UNSIGNED-PAYLOAD, a
wrong hash or a missing header are all accepted, as are a wrong Content-MD5 or x-amz-checksum-sha256, a 3-hour-old
X-Amz-Date and another region in the credential scope. A request without Authorization (unsigned, or a presigned
URL) gets 500 or 403. Multipart needs 5 MiB parts but the last (EntityTooSmall); ListObjectsV2 honours max-keys
above 1000 (real S3 caps it at 1000) and pages with an opaque continuation token.

Needs a python with `moto[server]` and boto3 (run it with that python: the server is started with the same one).
"""

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REGION = "us-east-1"
USER = "pipe-test"
# create_user, create_access_key, put_user_policy, create_bucket: the requests moto lets through unauthenticated.
SETUP_REQUESTS = 4
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
READY_TIMEOUT_S = 60.0


class StartError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    """True while the process exists and is not a zombie (a zombie's parent may never reap it)."""
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


def terminate(pid, grace_s=5.0):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        reap(pid)
        if not alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        reap(pid)
        if not alive(pid):
            return
        time.sleep(0.05)


def reap(pid):
    """Collects the exit status when the process is our child; harmless otherwise."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def patch_moto_signature_check():
    """Makes moto check Signature V4 against the request as sent, as AWS does.

    moto before 5.2.5 (5.2.1 here) recomputes the signature from werkzeug's `request.url`, an IRI in which
    percent-escapes are decoded: `prefix=a%2F` becomes `prefix=a/` and the key `a%2Bb` becomes `a+b`. A correctly
    signed request whose query holds `/` (ListObjectsV2 with `prefix=objects/`) or whose key holds `+ = & %` then
    gets SignatureDoesNotMatch, from boto3 as from any SDK. Here the canonical request is made from the raw request
    target (werkzeug's RAW_URI) instead; nothing else of moto's checking (secret, access key, IAM policy) changes.
    moto 5.2.5 checks these requests right by itself, and the patch changes nothing there.
    """
    try:
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.core.responses import BaseResponse

        setup_class = BaseResponse.setup_class
        authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action
    except (ImportError, AttributeError) as e:  # another moto layout: its own check, unpatched
        print(f"s3_test_server: signature check not patched ({e})", file=sys.stderr, flush=True)
        return

    def setup_class_keeping_raw_uri(self, request, full_url, headers, *args, **kwargs):
        environ = getattr(request, "environ", None)
        self._pipe_raw_uri = environ.get("RAW_URI") if isinstance(environ, dict) else None
        return setup_class(self, request, full_url, headers, *args, **kwargs)

    def authenticate_raw(self, iam_request_cls, resource="*"):
        raw = getattr(self, "_pipe_raw_uri", None)
        if not raw:
            return authenticate(self, iam_request_cls, resource)
        uri = self.uri
        self.uri = raw
        try:
            return authenticate(self, iam_request_cls, resource)
        finally:
            self.uri = uri

    BaseResponse.setup_class = setup_class_keeping_raw_uri
    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_raw


def serve(args):
    """The server process: moto's own server (`python -m moto.server`), with the signature check patched."""
    if not args.unpatched:
        patch_moto_signature_check()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])
    return 0


def launch(log_dir, unpatched):
    """Starts moto's server on a free port; returns (process, port, log path) once it answers HTTP."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never through a proxy
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "INITIAL_NO_AUTH_ACTION_COUNT"}
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_REQUESTS)
    env["PYTHONUNBUFFERED"] = "1"
    last_error = "no attempt"
    for _ in range(3):  # another process may take the port between our probe and moto's bind
        port = free_port()
        log_path = os.path.join(log_dir, f"moto-{port}.log")
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "serve", str(port)] + (["--unpatched"] if unpatched else []),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"moto's server exited with status {proc.returncode}:\n{log_tail(log_path)}"
                break
            try:
                # An unauthenticated moto endpoint that does not count as an action: answers 400 to a GET.
                direct.open(f"http://127.0.0.1:{port}/moto-api/reset-auth", timeout=2)
                return proc, port, log_path
            except urllib.error.HTTPError:
                return proc, port, log_path
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        else:
            terminate(proc.pid)
            raise StartError(f"moto's server did not answer within {READY_TIMEOUT_S:.0f} s:\n{log_tail(log_path)}")
    raise StartError(last_error)


def set_up(endpoint, bucket):
    import boto3
    import botocore.config
    import botocore.exceptions

    # No retries: a retried setup request would use up one of the unauthenticated actions.
    config = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})
    setup = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
        config=config,
    )
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName=USER)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    iam.put_user_policy(UserName=USER, PolicyName="s3-all", PolicyDocument=json.dumps(POLICY))
    boto3.client("s3", **setup).create_bucket(Bucket=bucket)

    def s3(secret):
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=secret,
            config=config,
        )

    # Authentication must be on now: a wrong secret is refused, the right one is accepted.
    try:
        s3(key["SecretAccessKey"] + "x").head_bucket(Bucket=bucket)
        raise StartError("moto accepted a request signed with a wrong secret: authentication is off")
    except botocore.exceptions.ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status != 403:
            raise StartError(f"a request with a wrong secret got HTTP {status}, not 403") from None
    s3(key["SecretAccessKey"]).head_bucket(Bucket=bucket)
    return key["AccessKeyId"], key["SecretAccessKey"]


def start(args):
    # boto3 honours HTTP(S)_PROXY: the loopback server must be reached directly.
    os.environ["NO_PROXY"] = ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get("NO_PROXY")]))
    os.environ["no_proxy"] = os.environ["NO_PROXY"]
    missing = [m for m in ("moto", "boto3", "flask") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"s3_test_server: {sys.executable} lacks {', '.join(missing)} (pip install 'moto[server]' boto3)",
              file=sys.stderr)
        return 1
    if len(args.bucket) < 3:
        print("s3_test_server: bucket names need at least 3 characters", file=sys.stderr)
        return 1
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
        log_dir = os.path.abspath(args.dir)
    else:
        log_dir = tempfile.mkdtemp(prefix="s3-test-server-")
    proc = None
    try:
        proc, port, log_path = launch(log_dir, args.unpatched)
        endpoint = f"http://127.0.0.1:{port}"
        access_key_id, secret = set_up(endpoint, args.bucket)
    except Exception as e:  # noqa: BLE001 - any failure: report it, kill the server
        if proc is not None:
            terminate(proc.pid)
        print(f"s3_test_server: start failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    info = {
        "pid": proc.pid,
        "port": port,
        "endpoint": endpoint,
        "access_key_id": access_key_id,
        "secret_access_key": secret,
        "region": REGION,
        "bucket": args.bucket,
        "log": log_path,
    }
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    return 0


def stop(args):
    terminate(args.pid)
    if alive(args.pid):
        print(f"s3_test_server: process {args.pid} is still running", file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description="moto's S3 server with authentication on, for tests")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("start", help="start a server, print its JSON description")
    p.add_argument("--bucket", required=True)
    p.add_argument("--dir", help="where the server's log goes (default: a new temporary directory)")
    p.add_argument("--unpatched", action="store_true", help="moto's own signature check (see serve's note)")
    p = commands.add_parser("stop", help="stop a server started by `start`")
    p.add_argument("pid", type=int)
    p = commands.add_parser("serve", help="(internal) run the server in the foreground on PORT")
    p.add_argument("port", type=int)
    p.add_argument("--unpatched", action="store_true")
    args = parser.parse_args()
    return {"start": start, "stop": stop, "serve": serve}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
