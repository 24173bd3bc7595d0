"""One error shape at the HTTP edge (DESIGN §5.4), pinned."""

import json

import tornado.web
from tornado.testing import AsyncHTTPTestCase

from services.common.http import ApiError, BaseHandler, HealthHandler, NotFoundHandler, StatusHandler


class Boom(BaseHandler):
    def get(self):
        raise ApiError(409, "schema already exists")


class Crash(BaseHandler):
    def get(self):
        raise RuntimeError("internal detail")


class ErrorShapeTest(AsyncHTTPTestCase):
    def get_app(self):
        return tornado.web.Application(
            [
                ("/boom", Boom),
                ("/crash", Crash),
                ("/health", HealthHandler),
                ("/status", StatusHandler, {"status": lambda: {"counters": {"x": 1}}}),
            ],
            default_handler_class=NotFoundHandler,
        )

    def test_api_error_shape(self):
        response = self.fetch("/boom")
        assert response.code == 409
        assert json.loads(response.body) == {"error": "schema already exists", "status": 409}

    def test_unknown_route_is_json_404(self):
        response = self.fetch("/nope")
        assert response.code == 404
        assert json.loads(response.body)["status"] == 404

    def test_crash_is_500_without_internals(self):
        from tornado.log import app_log
        import logging
        app_log.disabled = True
        try:
            response = self.fetch("/crash")
        finally:
            app_log.disabled = False
        assert response.code == 500
        body = json.loads(response.body)
        assert body == {"error": "Internal Server Error", "status": 500}

    def test_health_and_status(self):
        assert self.fetch("/health").body == b"ok"
        assert json.loads(self.fetch("/status").body) == {"counters": {"x": 1}}
