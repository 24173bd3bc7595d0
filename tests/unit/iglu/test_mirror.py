"""``mirror`` finds a registry's schema list in an S3 bucket listing (how static hosts like
iglucentral.com are often served) and copies every file; a folder source is copied as is."""

import http.server
import json
import threading

import pytest

from services.iglu.mirror import MirrorError, mirror

FILES = {f"schemas/com.acme/e/jsonschema/1-0-{i}": json.dumps({"n": i}).encode() for i in range(3)}


class S3Like(http.server.BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def do_GET(self):
        if self.path.startswith("/?list-type=2"):
            token = "continuation-token=page2" in self.path
            keys = sorted(FILES)[2:] if token else sorted(FILES)[:2] + ["schemas/README"]
            more = "" if token else "<NextContinuationToken>page2</NextContinuationToken>"
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                    + "".join(f"<Contents><Key>{k}</Key></Contents>" for k in keys) + more + "</ListBucketResult>").encode()
            self._send(200, body, "application/xml")
        elif self.path.lstrip("/") in FILES:
            self._send(200, FILES[self.path.lstrip("/")], "binary/octet-stream")
        else:
            self._send(404, b"", "text/plain")

    def _send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def s3():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), S3Like)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_s3_listing_with_pages(s3, tmp_path):
    copied = mirror(s3, tmp_path)
    assert sorted(copied) == sorted(k[len("schemas/"):] for k in FILES)
    for key, body in FILES.items():
        assert (tmp_path / key).read_bytes() == body


def test_folder_source_and_errors(tmp_path):
    src = tmp_path / "src" / "schemas" / "com.acme" / "e" / "jsonschema"
    src.mkdir(parents=True)
    (src / "1-0-0").write_text("{}")
    assert mirror(str(tmp_path / "src"), tmp_path / "out") == ["com.acme/e/jsonschema/1-0-0"]
    with pytest.raises(MirrorError):
        mirror(str(tmp_path / "nope"), tmp_path / "out2")
