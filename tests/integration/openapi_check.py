"""Checks response bodies against docs/openapi.yaml.

Each response is matched to its path template, operation and status in the
contract, and its JSON body validated against that response's schema (JSON
Schema 2020-12, as OpenAPI 3.1 uses) with python3-jsonschema; the spec is
read with python3-yaml.  Both are Debian packages listed in .ci/deps."""

from __future__ import annotations

import json
import os
import re

import jsonschema
import yaml

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "openapi.yaml")


class OpenAPIChecker:
    def __init__(self, path=SPEC_PATH):
        with open(path, encoding="utf-8") as f:
            self.spec = yaml.safe_load(f)
        self.templates = []
        for template in self.spec["paths"]:
            rx = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.templates.append((template, re.compile(rx)))
        self.checked = 0

    def _resolve(self, node):
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            parts = node["$ref"].lstrip("#/").split("/")
            node = self.spec
            for p in parts:
                node = node[p]
        return node

    def response_spec(self, method, path, status):
        """The response object for (method, path, status), or None when the
        contract does not describe that path (then any error is a Problem)."""
        path = path.split("?")[0]
        item = None
        for template, rx in self.templates:
            if rx.match(path):
                item = self.spec["paths"][template]
                break
        if item is None:
            return None
        method = "get" if method in ("GET", "HEAD") else method.lower()
        ops = [item[method]] if method in item else []
        ops += [v for k, v in item.items() if k in ("get", "post", "put", "delete", "patch") and k != method]
        for op in ops:
            resp = op.get("responses", {}).get(str(status))
            if resp is not None:
                return self._resolve(resp)
        raise AssertionError(f"the contract lists no {status} for {method.upper()} {path}")

    def check(self, method, path, status, content_type, body: bytes):
        """Raises AssertionError when the body does not fit the contract."""
        resp = self.response_spec(method, path, status)
        if resp is None:
            if status >= 400:
                resp = {"content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}}
            else:
                raise AssertionError(f"{method} {path} -> {status}: not in the contract")
        content = resp.get("content")
        if method == "HEAD" or not content:
            if method != "HEAD" and body:
                raise AssertionError(f"{method} {path} -> {status}: the contract has no body, got {body[:200]!r}")
            return
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in content:
            raise AssertionError(f"{method} {path} -> {status}: media type {media!r} not in {list(content)}")
        schema = self._resolve(content[media]["schema"])
        doc = json.loads(body)
        root = dict(schema)
        root["components"] = self.spec["components"]
        validator = jsonschema.Draft202012Validator(root)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise AssertionError(f"{method} {path} -> {status}: body breaks the contract at "
                                 f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}; body {body[:300]!r}")
        self.checked += 1
