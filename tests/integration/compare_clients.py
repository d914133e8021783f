#!/usr/bin/env python3
"""Drives the same scenario from the C++, Python and Go clients against one real sextantd, and
through the embedded engine, and checks that all four give the same answers (and the right ones).

The scenario (create a Flat L2 collection, stream-upsert siftsmall, search, filtered search,
delete by ids and by filter, count, search again, get) is written once per client:
  C++        tests/integration/client_scenario.cc   (also --embedded: the engine, no server)
  Python     tests/integration/scenario.py
  Go         client/go/cmd/sextant-scenario
Each writes the same JSON; this script compares them.

Exit codes: 0 all agree, 1 a difference or a failure, 77 skipped (no siftsmall data).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77


def read_ivecs(path, rows):
    out = []
    with open(path, "rb") as f:
        for _ in range(rows):
            (d,) = struct.unpack("<i", f.read(4))
            out.append(list(struct.unpack("<%di" % d, f.read(4 * d))))
    return out


def start_server(sextantd, workdir):
    data = os.path.join(workdir, "server-data")
    port_file = os.path.join(workdir, "port")
    log = open(os.path.join(workdir, "sextantd.log"), "w")
    proc = subprocess.Popen([sextantd, "--data", data, "--listen", "127.0.0.1:0", "--port-file", port_file],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("sextantd exited with %d; log in %s" % (proc.returncode, log.name))
        try:
            with open(port_file) as f:
                port = int(f.read().strip() or "0")
            if port > 0:
                return proc, "127.0.0.1:%d" % port
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("sextantd did not start within 30 s")


def run(name, cmd, cwd=None):
    print("== %s: %s" % (name, " ".join(cmd)), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout, end="")
    if r.returncode != 0:
        raise RuntimeError("%s failed with exit code %d" % (name, r.returncode))
    print("   %s took %.1f s" % (name, time.time() - t0), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sextantd", required=True)
    ap.add_argument("--cpp-scenario", required=True, help="the sextant_client_scenario binary")
    ap.add_argument("--python", required=True, help="a Python with the sextant package installed")
    ap.add_argument("--go", required=True, help="the go binary")
    ap.add_argument("--source-dir", required=True, help="the repository root")
    ap.add_argument("--data-dir", default=os.environ.get("SEXTANT_DATA_DIR", ""))
    args = ap.parse_args()

    siftsmall = os.path.join(args.data_dir, "siftsmall")
    if not os.path.exists(os.path.join(siftsmall, "siftsmall_base.fvecs")):
        print("SKIP: siftsmall not found under %r (set SEXTANT_DATA_DIR)" % args.data_dir)
        return SKIP

    workdir = tempfile.mkdtemp(prefix="sextant-clients-")
    outputs = {}
    proc = None
    try:
        # Build the Go scenario once (go run would rebuild it inside the timing of the run).
        go_bin = os.path.join(workdir, "sextant-scenario")
        run("go build", [args.go, "build", "-o", go_bin, "./cmd/sextant-scenario"],
            cwd=os.path.join(args.source_dir, "client", "go"))

        out = os.path.join(workdir, "embedded.json")
        run("embedded", [args.cpp_scenario, "--embedded", os.path.join(workdir, "embedded-data"),
                         "--siftsmall", siftsmall, "--out", out])
        outputs["embedded"] = out

        proc, address = start_server(args.sextantd, workdir)
        common = ["--address", address, "--siftsmall", siftsmall]
        clients = {
            "cpp": [args.cpp_scenario] + common,
            "python": [args.python, os.path.join(args.source_dir, "tests", "integration", "scenario.py")] + common,
            "go": [go_bin, "-address", address, "-siftsmall", siftsmall],
        }
        for name, cmd in clients.items():
            out = os.path.join(workdir, name + ".json")
            run(name, cmd + (["-out", out] if name == "go" else ["--out", out]))
            outputs[name] = out
    except RuntimeError as e:
        print("FAIL: %s" % e)
        if proc is not None:
            proc.kill()
            with open(os.path.join(workdir, "sextantd.log")) as f:
                print("---- sextantd log\n" + f.read())
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)

    results = {}
    for name, path in outputs.items():
        with open(path) as f:
            results[name] = json.load(f)

    failures = []
    ref = results["embedded"]
    for name, got in results.items():
        for key in ("count_after_upsert", "search", "filtered", "deleted_ids", "deleted_filter", "count_final",
                    "search_after_delete", "get_5"):
            if key not in got:
                failures.append("%s: no %r in its output" % (name, key))
            elif got[key] != ref[key]:
                failures.append("%s: %r differs from the embedded engine's:\n  %s\n  %s" % (name, key, got[key],
                                                                                          ref[key]))

    # And the shared answers are the right ones.
    n = 10000
    expect_deleted_ids = len(range(0, n, 7))
    expect_deleted_filter = sum(1 for i in range(n) if i % 10 == 9 and i % 7 != 0)
    checks = [
        (ref.get("count_after_upsert") == n, "count_after_upsert %r != %d" % (ref.get("count_after_upsert"), n)),
        (ref.get("deleted_ids") == expect_deleted_ids, "deleted_ids %r != %d" % (ref.get("deleted_ids"),
                                                                                expect_deleted_ids)),
        (ref.get("deleted_filter") == expect_deleted_filter,
         "deleted_filter %r != %d" % (ref.get("deleted_filter"), expect_deleted_filter)),
        (ref.get("count_final") == n - expect_deleted_ids - expect_deleted_filter, "count_final %r" %
         ref.get("count_final")),
        (ref.get("get_5") == {"id": 5, "payload": {"group": 5, "name": "p5"}}, "get_5 %r" % ref.get("get_5")),
    ]
    gt = read_ivecs(os.path.join(siftsmall, "siftsmall_groundtruth.ivecs"), 10)
    found = sum(len(set(row[:10]) & set(g[:10])) for row, g in zip(ref.get("search", []), gt))
    checks.append((found >= 99, "search recall@10 vs the ground truth %d/100 (an exact search)" % found))
    for q, row in enumerate(ref.get("filtered", [])):
        checks.append((len(row) == 10 and all(i % 10 == 3 for i in row), "filtered[%d] = %r" % (q, row)))
    for q, row in enumerate(ref.get("search_after_delete", [])):
        checks.append((len(row) == 10 and all(i % 7 != 0 and i % 10 != 9 for i in row),
                       "search_after_delete[%d] = %r" % (q, row)))
    failures += [msg for ok, msg in checks if not ok]

    if failures:
        print("FAIL:\n" + "\n".join(failures))
        print("outputs kept in %s" % workdir)
        return 1
    print("OK: embedded, C++, Python and Go agree on every answer (%s)" % ", ".join(sorted(results)))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
