#!/usr/bin/env python3
"""The TypeScript client generated from docs/openapi.yaml, driven on Node.

    python3 tests/client/run_test.py --orderd build/orderd --work build/tests/client

Steps, one test each: `npm ci` of tests/client/package-lock.json into WORK
(skipped, with its reason, without npm or when the registry cannot be reached
and the npm cache lacks a package); openapi-typescript writes the types of
docs/openapi.yaml; tsc (strict, tsconfig.json) type-checks and compiles them
with flow.ts and examples/checkout.mts; flow.ts drives a fresh orderd through
the whole flow, and every response it got is checked against the contract
(a status the operation does not list, or a body its schema does not
describe, fails); the example runs against the same server. A step whose
predecessor did not pass is skipped. The harness is orderd_harness.py."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from openapi_check import SPEC_PATH, OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    Runner, Server, SkipTest, TempDir, TestFailure, ensure, ensure_eq, require_executable, start_servers,
)

TOKEN = "client-test-operator-token"
# npm's error codes when the registry cannot be reached (or, offline, the cache lacks a package)
NETWORK_RE = re.compile(r"E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH|NOTCACHED)"
                        r"|network|socket hang up|proxy")


def read(path):
    with open(path) as f:
        return f.read()


def run(cmd, cwd, timeout, what):
    """Runs cmd; returns its output. A non-zero exit or a timeout fails the test."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{what} took over {timeout} s") from None
    out = (proc.stdout + proc.stderr).strip()
    ensure(proc.returncode == 0, f"{what} exited {proc.returncode}:\n{out[-3000:]}")
    return out


class Steps:
    def __init__(self, args):
        self.work = os.path.abspath(args.work)
        self.spec = os.path.abspath(args.spec)
        self.binary = os.path.abspath(args.orderd)
        self.bin = os.path.join(self.work, "node_modules", ".bin")
        self.passed = set()

    def after(self, step):
        if step not in self.passed:
            raise SkipTest(f"needs {step}, which did not pass")

    def npm_install(self):
        npm, node = shutil.which("npm"), shutil.which("node")
        if not npm or not node:
            raise SkipTest("node and npm are not installed (Debian nodejs and npm; .ci/deps installs them)")
        major = int(subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
                    .lstrip("v").split(".")[0])
        if major < 18:
            raise SkipTest(f"Node.js {major} has no fetch; openapi-fetch needs 18 or later")
        os.makedirs(self.work, exist_ok=True)
        digest = hashlib.sha256()
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(HERE, name), os.path.join(self.work, name))
            with open(os.path.join(HERE, name), "rb") as f:
                digest.update(f.read())
        stamp = os.path.join(self.work, "node_modules", ".orderd-installed")
        if os.path.exists(stamp) and read(stamp) == digest.hexdigest():
            self.passed.add("npm_install")
            return "(node_modules up to date)"
        # --prefer-offline: what the npm cache holds is used without asking the registry
        cmd = [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            proc = subprocess.run(cmd, cwd=self.work, capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            raise SkipTest("npm ci took over 240 s: the npm registry cannot be reached?") from None
        out = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0:
            if NETWORK_RE.search(out):
                why = next(line for line in out.splitlines() if NETWORK_RE.search(line))
                raise SkipTest(f"npm cannot reach the registry and its cache lacks a package: {why.strip()}")
            raise TestFailure(f"npm ci exited {proc.returncode}:\n{out[-3000:]}")
        with open(stamp, "w") as f:
            f.write(digest.hexdigest())
        self.passed.add("npm_install")

    def generate_client(self):
        self.after("npm_install")
        src = os.path.join(self.work, "src")
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(os.path.join(self.work, "out"), ignore_errors=True)
        os.makedirs(src)
        # --default-non-nullable false: a request member with a default (currency) may be left out
        gen = os.path.join(src, "orderd.ts")
        run([os.path.join(self.bin, "openapi-typescript"), self.spec, "--default-non-nullable", "false",
             "-o", gen], self.work, 120, "openapi-typescript")
        ensure("export interface paths" in read(gen), f"{gen} declares no `paths`")
        shutil.copyfile(os.path.join(HERE, "flow.ts"), os.path.join(src, "flow.ts"))
        shutil.copyfile(os.path.join(ROOT, "examples", "checkout.mts"), os.path.join(src, "checkout.mts"))
        shutil.copyfile(os.path.join(HERE, "tsconfig.json"), os.path.join(self.work, "tsconfig.json"))
        self.passed.add("generate_client")

    def typecheck(self):
        self.after("generate_client")
        run([os.path.join(self.bin, "tsc"), "-p", "tsconfig.json"], self.work, 180, "tsc (strict)")
        for js in ("flow.js", "checkout.mjs"):
            ensure(os.path.exists(os.path.join(self.work, "out", js)), f"tsc wrote no out/{js}")
        self.passed.add("typecheck")

    def flow(self, server):
        self.after("typecheck")
        log = os.path.join(self.work, "responses.ndjson")
        if os.path.exists(log):
            os.unlink(log)
        out = run(["node", "out/flow.js", server.base_url, TOKEN, log], self.work, 120, "the flow")
        m = re.search(r"^flow: (\d+) requests as expected$", out, re.M)
        ensure(m is not None, f"the flow did not finish: {out[-2000:]}")
        with open(log) as f:
            records = [json.loads(line) for line in f]
        ensure_eq(len(records), int(m.group(1)), "responses logged vs. requests made")
        checker = OpenAPIChecker(self.spec)
        self.self_check(checker)
        for r in records:
            try:
                checker.check(r["method"], r["path"], r["status"], r["content_type"], r["body"].encode())
            except AssertionError as e:
                raise TestFailure(f"a response the contract does not describe: {e}") from None
        return f"{len(records)} responses, {checker.checked} bodies checked against {os.path.basename(self.spec)}"

    @staticmethod
    def self_check(checker):
        """The contract check can fail: an unlisted status and a body without a required member."""
        body = json.dumps({"id": "06z3dgxyc027m"}).encode()
        for status in (299, 200):
            try:
                checker.check("GET", "/api/orders/06z3dgxyc027m", status, "application/json", body)
            except AssertionError:
                continue
            raise TestFailure(f"the contract check let a {status} with {body!r} through")

    def example(self, server):
        self.after("typecheck")
        out = run(["node", "out/checkout.mjs", server.base_url, "example.user"], self.work, 60, "examples/checkout")
        ensure(re.search(r"^\w{13} is cancelled \(version 2\)$", out, re.M) is not None,
               f"examples/checkout did not cancel its order:\n{out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--work", required=True, help="directory for node_modules and the generated client")
    ap.add_argument("--spec", default=SPEC_PATH, help="the OpenAPI document (default docs/openapi.yaml)")
    args = ap.parse_args()
    runner = Runner()
    steps = Steps(args)
    if not require_executable(runner, steps.binary):
        return runner.finish()
    for name in ("npm_install", "generate_client", "typecheck"):
        runner.run(name, getattr(steps, name))
    with TempDir("orderd-client-") as workdir:
        tok = os.path.join(workdir, "operator-token")
        with open(tok, "w") as f:
            f.write(TOKEN + "\n")
        server = Server(steps.binary, args=["--operator-token-file", tok], workdir=workdir, name="orderd")
        try:
            if "typecheck" in steps.passed and not start_servers(runner, server):
                return runner.finish()
            runner.run("flow", steps.flow, server)
            runner.run("example", steps.example, server)
        finally:
            if server.proc is not None:
                server.kill9()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
