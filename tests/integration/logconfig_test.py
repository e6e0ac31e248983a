#!/usr/bin/env python3
"""Configuration and logs from outside: every flag from an ORDERD_*
variable, the flag winning over its variable, --help naming each flag's
default and variable; every stderr line "RFC 3339 UTC time, level, message"
(--log-format text) or one JSON object (--log-format json) from start to
stop, the effective configuration logged at start-up without the operator
token, and a bad variable refused like a bad flag.

    python3 tests/integration/logconfig_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (orderd_harness.py)."""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    LOG_LINE_RE, Runner, Server, TempDir, ensure, ensure_eq, expect, new_order, require_executable)


TOKEN = "s3cret-operator-token-for-the-log-test"
# 2026-12-01T20:17:15.123Z: RFC 3339, UTC, milliseconds
JSON_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FLAGS = ["listen", "tls-cert", "tls-key", "http2", "threads", "data-dir", "max-body", "max-connections",
         "header-timeout", "body-timeout", "idle-timeout", "fsync", "snapshot-bytes", "operator-token-file",
         "idempotency-ttl", "return-window", "node-id", "feed-retention", "webhook", "webhook-secret-file",
         "webhook-max-age", "webhook-timeout", "access-log", "trusted-proxy", "cors-origin", "compress", "log-format",
         "rate-limit-per-user", "rate-limit-burst", "max-orders-per-user", "max-orders", "memory-limit",
         "http2-max-streams", "http2-max-resets", "user-auth", "jwt-key-file", "jwt-secret-file", "jwt-issuer",
         "jwt-audience", "jwt-user-claim", "jwt-leeway"]


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERD_")}
    env.update(extra or {})
    return env


def traffic_and_stop(srv):
    """Some requests, a SIGHUP, then SIGTERM; returns the exit status."""
    c = srv.http()
    order, _ = new_order(random.Random(7), "log")
    expect(c.create("log-user", order), 201)
    expect(c.request("GET", "/api/orders/nope", user="log-user"), 404)
    os.kill(srv.proc.pid, signal.SIGHUP)
    ensure(srv.wait_line(r"SIGHUP", 5) is not None, "no line after SIGHUP")
    return srv.terminate()


def test_text_lines(binary, tmp):
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    srv = Server(binary, args=["--operator-token-file", token_file], env=clean_env()).start()
    try:
        ensure_eq(traffic_and_stop(srv), 0, "exit status")
        ensure(len(srv.raw_lines) >= 5, f"few lines: {srv.raw_lines}")
        bad = [ln for ln in srv.raw_lines if not LOG_LINE_RE.match(ln)]
        ensure(not bad, f"lines not 'TIME LEVEL message': {bad}")
        conf = [ln for ln in srv.lines if "effective configuration" in ln]
        ensure(len(conf) == 1, f"one effective-configuration line: {srv.lines}")
        for want in ("listen=http://127.0.0.1:0", "threads=2", f"data-dir={srv.data_dir}", "fsync=always",
                     f"operator-token-file={token_file}", "log-format=text", "compress=on"):
            ensure(want in conf[0], f"{want!r} not in {conf[0]!r}")
        ensure(TOKEN not in srv.stderr_text(), "the operator token is in the log")
        ensure(any(LOG_LINE_RE.match(ln).group(2) == "INFO" for ln in srv.raw_lines), "no INFO line")
        return f"({len(srv.raw_lines)} lines)"
    finally:
        srv.kill9()


def test_json_lines(binary, tmp):
    srv = Server(binary, args=["--log-format", "json"], env=clean_env()).start(expect_listen=False)
    try:
        # the harness waits for the text form; the JSON form holds the same message
        line = None
        for _ in range(200):
            for raw in list(srv.raw_lines):
                if '"listening on http://127.0.0.1:' in raw:
                    line = raw
            if line:
                break
            time.sleep(0.05)
        ensure(line is not None, f"no JSON 'listening on' line: {srv.raw_lines}")
        srv.port = int(re.search(r"127\.0\.0\.1:(\d+)", json.loads(line)["msg"]).group(1))
        ensure_eq(traffic_and_stop(srv), 0, "exit status")
        levels = set()
        for raw in srv.raw_lines:
            try:
                obj = json.loads(raw)
            except ValueError:
                raise AssertionError(f"not a JSON line: {raw!r}")
            ensure_eq(sorted(obj), ["level", "msg", "time"], f"keys of {raw}")
            ensure(JSON_TIME_RE.match(obj["time"]), f"time {obj['time']!r}")
            ensure(obj["level"] in ("INFO", "WARN", "ERROR"), f"level {obj['level']!r}")
            levels.add(obj["level"])
        msgs = [json.loads(r)["msg"] for r in srv.raw_lines]
        ensure(any("effective configuration" in m and "log-format=json" in m for m in msgs), f"{msgs}")
        ensure(any(m == "stopped" for m in msgs), f"no 'stopped': {msgs}")
        return f"({len(srv.raw_lines)} JSON lines, levels {sorted(levels)})"
    finally:
        srv.kill9()


def test_every_flag_from_env(binary, tmp):
    data = os.path.join(tmp, "envdata")
    log = os.path.join(tmp, "access.log")
    env = clean_env({"ORDERD_LISTEN": "127.0.0.1:0", "ORDERD_THREADS": "1", "ORDERD_DATA_DIR": data,
                     "ORDERD_MAX_BODY": "2048", "ORDERD_FSYNC": "everysec", "ORDERD_ACCESS_LOG": log,
                     "ORDERD_IDEMPOTENCY_TTL": "1h", "ORDERD_COMPRESS": "off",
                     "ORDERD_HTTP2_MAX_STREAMS": "10", "ORDERD_HTTP2_MAX_RESETS": "20",
                     "ORDERD_TRUSTED_PROXY": "10.0.0.0/8,::1", "ORDERD_CORS_ORIGIN": "https://shop.example",
                     "ORDERD_RATE_LIMIT_PER_USER": "30/m", "ORDERD_RATE_LIMIT_BURST": "6",
                     "ORDERD_MAX_ORDERS_PER_USER": "70", "ORDERD_MAX_ORDERS": "800", "ORDERD_MEMORY_LIMIT": "1G"})
    srv = Server(binary, env=env)
    srv.argv = [binary]  # nothing on the command line: everything from the environment
    srv.start()
    try:
        conf = next(ln for ln in srv.lines if "effective configuration" in ln)
        for want in ("threads=1", f"data-dir={data}", "max-body=2048", "fsync=everysec", f"access-log={log}",
                     "idempotency-ttl=3600s", "compress=off", "trusted-proxy=10.0.0.0/8", "trusted-proxy=::1/128",
                     "http2-max-streams=10", "http2-max-resets=20",
                     "cors-origin=https://shop.example", "rate-limit-per-user=30/m", "rate-limit-burst=6",
                     "max-orders-per-user=70", "max-orders=800", "memory-limit=1073741824"):
            ensure(want in conf, f"{want!r} not in {conf!r}")
        c = srv.http()
        r = c.request("POST", "/api/orders", user="u", body=b"x" * 4096)
        ensure_eq(r.status, 413, "a body over ORDERD_MAX_BODY")
        ensure(os.path.isdir(os.path.join(data)) and os.listdir(data), "ORDERD_DATA_DIR holds nothing")
        ensure(os.path.exists(log), "ORDERD_ACCESS_LOG file not made")
        ensure_eq(srv.terminate(), 0, "exit status")
        return ""
    finally:
        srv.kill9()


def test_flag_wins(binary, tmp):
    env = clean_env({"ORDERD_THREADS": "not-a-number", "ORDERD_MAX_BODY": "100", "ORDERD_LISTEN": "127.0.0.1:1"})
    srv = Server(binary, args=["--max-body", "5000"], env=env).start()  # the harness gives --listen, --threads
    try:
        conf = next(ln for ln in srv.lines if "effective configuration" in ln)
        ensure("threads=2" in conf and "max-body=5000" in conf and "listen=http://127.0.0.1:0" in conf, conf)
        ensure_eq(srv.terminate(), 0, "exit status")
        return ""
    finally:
        srv.kill9()


def test_bad_variable(binary, tmp):
    for var, value in (("ORDERD_FSYNC", "sometimes"), ("ORDERD_LISTEN", "nowhere"), ("ORDERD_LOG_FORMAT", "xml"),
                       ("ORDERD_RATE_LIMIT_PER_USER", "fast"), ("ORDERD_MEMORY_LIMIT", "lots")):
        p = subprocess.run([binary, "--data-dir", os.path.join(tmp, "bad")], env=clean_env({var: value}),
                           capture_output=True, timeout=10)
        err = p.stderr.decode(errors="replace").strip().splitlines()
        ensure_eq(p.returncode, 2, f"{var}={value}: exit status")
        ensure(len(err) == 1 and var in err[0] and value in err[0], f"{var}={value}: stderr {err}")
    return ""


def test_help(binary, tmp):
    p = subprocess.run([binary, "--help"], env=clean_env(), capture_output=True, timeout=10)
    ensure_eq(p.returncode, 0, "--help exit status")
    out = p.stdout.decode()
    for flag in FLAGS:
        m = re.search(rf"\n  --{flag} [^\n]*\n(.*?)(?=\n  --|\Z)", out, re.S)
        ensure(m is not None, f"--help does not list --{flag}")
        var = "ORDERD_" + flag.upper().replace("-", "_")
        ensure("default: " in m.group(1) and f"variable: {var}" in m.group(1),
               f"--{flag}: no default or variable {var}: {m.group(1)!r}")
    return f"({len(FLAGS)} flags)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        with TempDir("orderd-logconfig-") as tmp:
            runner.run("text_log_lines_start_to_stop", test_text_lines, binary, tmp)
            runner.run("json_log_lines_start_to_stop", test_json_lines, binary, tmp)
            runner.run("every_flag_from_its_variable", test_every_flag_from_env, binary, tmp)
            runner.run("flag_wins_over_variable", test_flag_wins, binary, tmp)
            runner.run("bad_variable_exit_2_one_line", test_bad_variable, binary, tmp)
            runner.run("help_lists_default_and_variable", test_help, binary, tmp)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
