"""A small Kubernetes REST client for tests: bearer token, the test CA, JSON in
and out, and watch streams on their own threads. Used where spawning kubectl
per call would be too slow (a fake kubelet polling every 50 ms, a sampler
timing endpoint changes to the millisecond).

Not a general client: no retries, no pagination, no protobuf.
"""
import http.client
import json
import ssl
import threading
import time
import urllib.parse


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class KubeApi:
    def __init__(self, url, token, ca_file):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 443
        self.token = token
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.local = threading.local()

    def _conn(self, timeout=10):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json", timeout=10):
        """One request on a per-thread keep-alive connection; returns the
        decoded JSON (or None for an empty body); raises ApiError for >= 400."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self._conn(timeout)
            try:
                conn.request(method, path, body=data, headers=headers)
                r = conn.getresponse()
                raw = r.read().decode()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        if r.status >= 400:
            raise ApiError(r.status, raw)
        return json.loads(raw) if raw else None

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def merge_patch(self, path, body):
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path, body=None):
        return self.request("DELETE", path, body)


class Watch(threading.Thread):
    """Follows `path` (a collection, with its query) as a watch stream and
    calls on_event(type, object, t) for each event, t = time.time() when the
    line arrived. Reconnects from the last resourceVersion; stops on stop()."""

    def __init__(self, api, path, on_event):
        super().__init__(daemon=True)
        self.api, self.path, self.on_event = api, path, on_event
        self.stopping = threading.Event()
        self.conn = None

    def run(self):
        rv = ""
        sep = "&" if "?" in self.path else "?"
        while not self.stopping.is_set():
            try:
                if not rv:
                    lst = self.api.get(self.path)
                    rv = lst["metadata"]["resourceVersion"]
                    now = time.time()
                    for item in lst.get("items", []):
                        self.on_event("ADDED", item, now)
                self.conn = self.api._conn(timeout=60)
                q = f"{self.path}{sep}watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
                self.conn.request("GET", q, headers={"Authorization": f"Bearer {self.api.token}"})
                r = self.conn.getresponse()
                if r.status != 200:
                    rv = ""
                    time.sleep(0.2)
                    continue
                while not self.stopping.is_set():
                    line = r.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    obj = ev.get("object", {})
                    if ev.get("type") == "ERROR":
                        rv = ""  # expired: list again
                        break
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if ev.get("type") != "BOOKMARK":
                        self.on_event(ev["type"], obj, time.time())
            except (OSError, http.client.HTTPException, ValueError):
                if self.stopping.is_set():
                    return
                time.sleep(0.2)
            finally:
                if self.conn is not None:
                    self.conn.close()

    def stop(self):
        self.stopping.set()
        try:
            if self.conn is not None and self.conn.sock is not None:
                self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.join(timeout=5)
