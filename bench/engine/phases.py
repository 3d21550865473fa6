#!/usr/bin/env python3
"""Where the time of `run --rm busybox true` goes, at the API: the Engine API
calls a client makes for it, each timed on one kept-alive connection.

    phases.py LABEL SOCKET REPS OUT.json

Each repetition, two ways:
  explicit   POST /containers/create {Image: busybox, Cmd: [true]},
             POST /containers/{id}/wait?condition=next-exit (sent first on a
             second connection, as the docker CLI does, and read after start),
             POST /containers/{id}/start, the wait's answer, DELETE /containers/{id}.
  autoremove what `run --rm` does: create with HostConfig.AutoRemove, wait with
             condition=removed, start; "wait" ends when the daemon has removed it.
The sum of the medians against the CLI's median shows what the CLI adds
(process start, version negotiation, attach, and so on).
"""
import http.client
import json
import socket
import statistics
import sys
import time

API = "/v1.41"


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.path)
        self.sock = s


def call(conn, method, url, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, API + url, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {url}: HTTP {r.status}: {data[:300]!r}")
    return json.loads(data) if data.strip() else None


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    label, sock, reps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    conn = UnixConn(sock)
    wconn = UnixConn(sock)
    phases = {"create": [], "start": [], "wait": [], "delete": [], "total": [],
              "ar_create": [], "ar_start": [], "ar_wait_removed": [], "ar_total": []}
    for i in range(reps + 2):  # two warm-up rounds
        t0 = time.perf_counter()
        cid = call(conn, "POST", "/containers/create",
                   {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}})["Id"]
        t1 = time.perf_counter()
        wconn.request("POST", f"{API}/containers/{cid}/wait?condition=removed")
        t2 = time.perf_counter()
        call(conn, "POST", f"/containers/{cid}/start")
        t3 = time.perf_counter()
        r = wconn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"wait: HTTP {r.status}: {body[:300]!r}")
        t4 = time.perf_counter()
        if i >= 2:
            phases["ar_create"].append(t1 - t0)
            phases["ar_start"].append(t3 - t2)
            phases["ar_wait_removed"].append(t4 - t3)
            phases["ar_total"].append(t4 - t0)

        t0 = time.perf_counter()
        cid = call(conn, "POST", "/containers/create",
                   {"Image": "busybox", "Cmd": ["true"], "HostConfig": {}})["Id"]
        t1 = time.perf_counter()
        wconn.request("POST", f"{API}/containers/{cid}/wait?condition=next-exit")
        t2 = time.perf_counter()
        call(conn, "POST", f"/containers/{cid}/start")
        t3 = time.perf_counter()
        r = wconn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"wait: HTTP {r.status}: {body[:300]!r}")
        t4 = time.perf_counter()
        call(conn, "DELETE", f"/containers/{cid}")
        t5 = time.perf_counter()
        if i < 2:
            continue
        phases["create"].append(t1 - t0)
        phases["start"].append(t3 - t2)
        phases["wait"].append(t4 - t3)
        phases["delete"].append(t5 - t4)
        phases["total"].append(t5 - t0)
    med = {k: statistics.median(v) for k, v in phases.items()}
    print(f"  {label}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in med.items()),
          file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"label": label, "reps": reps, "median_s": med, "all_s": phases}, f, indent=1)


if __name__ == "__main__":
    main()
