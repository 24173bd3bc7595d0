"""Mounts: a reserved prefix forwarded to a loopback service (prefix stripped, streamed), 404 and 502 JSON."""

from __future__ import annotations

import json
import socket

import pytest
import tornado.httpserver
import tornado.testing
import tornado.web

from services.collector.mounts import MountError, Mounts, parse_mounts

from .helpers import CollectorTestCase


class Echo(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")

    def _echo(self, *args):
        self.set_header("X-Upstream", "yes")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "method": self.request.method,
            "path": self.request.path,
            "query": self.request.query,
            "body": self.request.body.decode(),
            "auth": self.request.headers.get("Authorization"),
            "prefix": self.request.headers.get("X-Forwarded-Prefix"),
        }))

    get = post = put = delete = options = _echo


class Stream(tornado.web.RequestHandler):
    async def get(self):
        for i in range(5):
            self.write(f"chunk{i}\n")
            await self.flush()


class Status(tornado.web.RequestHandler):
    def get(self):
        self.set_status(418)
        self.finish("teapot")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MountedService(CollectorTestCase):
    def get_app(self):
        upstream = tornado.web.Application([(r"/stream", Stream), (r"/teapot", Status), (r"/.*", Echo)])
        sock, self.upstream_port = tornado.testing.bind_unused_port()
        self.upstream = tornado.httpserver.HTTPServer(upstream)
        self.upstream.add_sockets([sock])
        self.dead_port = free_port()
        self.overrides = {"collector.mounts": [f"/iglu-server=http://127.0.0.1:{self.upstream_port}",
                                               f"/micro=http://127.0.0.1:{self.upstream_port}/base",
                                               f"/elasticsearch=http://127.0.0.1:{self.dead_port}"]}
        return super().get_app()

    def tearDown(self):
        self.upstream.stop()
        super().tearDown()

    def test_prefix_is_stripped_and_request_passes_through(self):
        response = self.req("/iglu-server/api/schemas/com.acme?repr=canonical", "POST", '{"a":1}',
                            Authorization="Basic eDp5", Content_Type="application/json")
        assert response.code == 200
        assert response.headers["X-Upstream"] == "yes"
        echo = json.loads(response.body)
        assert echo == {"method": "POST", "path": "/api/schemas/com.acme", "query": "repr=canonical",
                        "body": '{"a":1}', "auth": "Basic eDp5", "prefix": "/iglu-server"}
        assert self.publisher.published == []

    def test_large_and_chunked_bodies_stream_up(self):
        body = b"x" * 1_500_000
        echo = json.loads(self.req("/iglu-server/upload", "PUT", body).body)
        assert echo["method"] == "PUT" and len(echo["body"]) == len(body)

        async def chunks(write):
            for i in range(4):
                await write(b"%d" % i * 1000)

        response = self.fetch("/iglu-server/chunked", method="POST", body_producer=chunks, raise_error=False)
        assert json.loads(response.body)["body"] == "".join(str(i) * 1000 for i in range(4))

    def test_body_to_a_dead_target_is_502(self):
        response = self.req("/elasticsearch/_bulk", "POST", b'{"index":{}}\n{"a":1}\n' * 1000)
        assert response.code == 502

    def test_target_path_base_and_bare_prefix(self):
        assert json.loads(self.req("/micro/all").body)["path"] == "/base/all"
        assert json.loads(self.req("/micro").body)["path"] == "/base/"
        assert json.loads(self.req("/iglu-server").body)["path"] == "/"

    def test_methods_and_status_pass_through(self):
        assert json.loads(self.req("/iglu-server/x", "DELETE").body)["method"] == "DELETE"
        assert json.loads(self.req("/iglu-server/x", "OPTIONS").body)["method"] == "OPTIONS"
        teapot = self.req("/iglu-server/teapot")
        assert (teapot.code, teapot.body) == (418, b"teapot")

    def test_streamed_response(self):
        response = self.req("/iglu-server/stream")
        assert response.body == b"".join(f"chunk{i}\n".encode() for i in range(5))

    def test_target_down_is_502_json(self):
        response = self.req("/elasticsearch/good/_search")
        assert response.code == 502
        body = json.loads(response.body)
        assert body["status"] == 502 and "/elasticsearch" in body["error"]

    def test_unmounted_reserved_prefix_is_404_json(self):
        response = self.req("/kibana/app")
        assert response.code == 404 and json.loads(response.body)["status"] == 404

    def test_mounts_can_change_at_run_time(self):
        mounts = self._app.mounts
        mounts.mount("/dashboard", f"http://127.0.0.1:{self.upstream_port}")
        assert json.loads(self.req("/dashboard/index.html").body)["path"] == "/index.html"
        mounts.unmount("/dashboard")
        assert self.req("/dashboard/index.html").code == 404
        mounts.mount("/notebooks", f"http://127.0.0.1:{self.upstream_port}")
        assert json.loads(self.req("/notebooks/a/b").body)["path"] == "/a/b"
        mounts.unmount("/notebooks")
        assert self.req("/notebooks/a").code == 200  # a tracker path again


def test_parse_mounts():
    assert parse_mounts(["/iglu-server=http://127.0.0.1:4001/", "/micro = http://h:1/x"]) == {
        "/iglu-server": "http://127.0.0.1:4001", "/micro": "http://h:1/x"}
    for bad in ("iglu=http://h:1", "/x", "/x=ftp://h", "/x=http://"):
        with pytest.raises(MountError):
            parse_mounts([bad])


def test_resolve_prefers_the_longest_prefix():
    mounts = Mounts({"/micro": "http://a:1", "/micro/v2": "http://b:2"})
    assert mounts.resolve("/micro/v2/all") == ("/micro/v2", "http://b:2", "/all")
    assert mounts.resolve("/micro/all") == ("/micro", "http://a:1", "/all")
    with pytest.raises(KeyError):
        mounts.resolve("/microsite")


class GuardedPrefixes(CollectorTestCase):
    """With collector.basic_auth set, /elasticsearch & co. ask for basic auth; /iglu-server does not."""

    def get_app(self):
        sock, self.upstream_port = tornado.testing.bind_unused_port()
        self.upstream = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/.*", Echo)]))
        self.upstream.add_sockets([sock])
        up = f"http://127.0.0.1:{self.upstream_port}"
        self.overrides = {"collector.mounts": [f"/elasticsearch={up}", f"/iglu-server={up}"],
                          "collector.basic_auth": ["admin:s3cret"]}
        return super().get_app()

    def tearDown(self):
        self.upstream.stop()
        super().tearDown()

    def test_no_or_wrong_credentials_is_401_with_a_challenge(self):
        import base64
        for headers in ({}, {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()},
                        {"Authorization": "Basic not-base64!"}, {"Authorization": "Bearer x"}):
            response = self.req("/elasticsearch/good/_search", **headers)
            assert response.code == 401, headers
            assert response.headers["WWW-Authenticate"].startswith("Basic ")
            assert json.loads(response.body)["status"] == 401

    def test_right_credentials_pass_and_iglu_is_not_guarded(self):
        import base64
        token = "Basic " + base64.b64encode(b"admin:s3cret").decode()
        response = self.req("/elasticsearch/good/_search", Authorization=token)
        assert response.code == 200 and json.loads(response.body)["path"] == "/good/_search"
        assert self.req("/iglu-server/api/meta/health").code == 200
