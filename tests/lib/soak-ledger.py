#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The soak test's ledger (tests/e2e/soak.sh): for every crash of its ground truth, where did the
core go? Reads the test's own truth files, the host log lines it captured, the containers'
stores and the host fallback store; prints one ledger line per crash and one FAIL line per
crash that does not balance. Exit status 0 when every crash balances.

  soak-ledger.py TRUTH_DIR HOST_LOG FALLBACK_STORE CT=STORE... [--names FILE]

A truth file (TRUTH_DIR/NAME) holds "NAME CONTAINER SIZE_MIB RC FAULTED": RC is the exit
status of the shell that ran the crasher (139 when it died of its SIGSEGV, 137 when it was
SIGKILLed: by the OOM killer of its memory cgroup before it faulted, or during its dump),
FAULTED 1 when the crasher had filled its heap and was about to fault (it printed its pid): only
then was its core handed to the helper.

Each crash that really crashed must be in exactly one place:
  complete       a core in its container's store, its decompressed size equal to what its
                 program headers say (largest p_offset + p_filesz) and to the record's
                 core_expected_size, not marked truncated;
  truncated      a core in its container's store marked truncated with a truncated_reason;
  fallback       a core in the host's fallback store (complete or marked, as above);
  logged         no core anywhere, and the helper's host log line says why: outcome=dropped,
                 skipped or failed with a reason.
A crash with none of these, or with cores in two places, or whose host log line disagrees with
where its core is, or a core shorter or longer than its program headers say without the mark,
fails. A process that did not crash must be nowhere.
"""
import glob
import json
import os
import re
import struct
import subprocess
import sys

LINE = re.compile(r'\bcomm="([^"]*)" .*?\boutcome=([a-z-]+)')


def read_truth(truth_dir, names):
    truth = {}
    for name in names:
        with open(os.path.join(truth_dir, name), encoding="utf-8") as f:
            fields = f.read().split()
        if len(fields) < 5:
            truth[name] = {"ct": fields[1] if len(fields) > 1 else "?", "size": 0, "rc": None, "faulted": False}
            continue
        truth[name] = {"ct": fields[1], "size": int(fields[2]), "rc": fields[3], "faulted": fields[4] == "1"}
    return truth


def read_log(path, names):
    lines = {n: [] for n in names}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # Only the helper's own lines (core_pipe[PID]: ...), each the one line of a crash.
            if not re.search(r"(^|\] )core_pipe\[[0-9]+\]: ", line):
                continue
            m = LINE.search(line)
            if m and m.group(1) in lines:
                lines[m.group(1)].append(line.rstrip("\n"))
    return lines


def field(line, key):
    m = re.search(r"\b" + key + r'="((?:[^"\\]|\\.)*)"', line)
    if m:
        return m.group(1)
    m = re.search(r"\b" + key + r"=([^ ]+)", line)
    return m.group(1) if m else None


def core_bytes(path):
    """The decompressed bytes of a stored core: (length, the ELF's expected length or None,
    error text or None)."""
    if path.endswith(".zst"):
        proc = subprocess.Popen(["zstd", "-q", "-d", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stream = proc.stdout
    else:
        proc = None
        stream = open(path, "rb")
    head = b""
    total = 0
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        if len(head) < (1 << 20):
            head += chunk[: (1 << 20) - len(head)]
        total += len(chunk)
    err = None
    if proc:
        proc.wait()
        if proc.returncode != 0:
            err = "zstd: " + proc.stderr.read().decode(errors="replace").strip()
    else:
        stream.close()
    return total, expected_from_headers(head), err


def expected_from_headers(head):
    """Largest p_offset + p_filesz of an ELF64 little-endian core's program headers."""
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return None
    phoff = struct.unpack_from("<Q", head, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    if phentsize < 56 or phoff + phnum * phentsize > len(head):
        return None
    end = 0
    for i in range(phnum):
        off = phoff + i * phentsize
        p_offset = struct.unpack_from("<Q", head, off + 8)[0]
        p_filesz = struct.unpack_from("<Q", head, off + 32)[0]
        end = max(end, p_offset + p_filesz)
    return end


def word(text, n=40):
    """TEXT as one word for the ledger's tables: up to its first ":" or "(", spaces as "_"."""
    text = re.split(r"[:(]", text or "")[0].strip()
    return re.sub(r"[^A-Za-z0-9=.,-]+", "_", text)[:n] or "-"


def records_of(store, name):
    return sorted(glob.glob(os.path.join(store, "core." + glob.escape(name) + ".*.json")))


def fallback_records_of(store, name):
    return sorted(glob.glob(os.path.join(store, "**", "core." + glob.escape(name) + ".*.json"), recursive=True))


def check_record(path, t, problems, stats):
    """Checks one stored core against its record and its own program headers; returns the
    record's verdict: "complete" or "truncated:<reason>"."""
    with open(path, encoding="utf-8") as f:
        rec = json.load(f)
    core = path[: -len(".json")] + ".zst"
    if not os.path.exists(core):
        core = path[: -len(".json")]
    if not os.path.exists(core):
        problems.append(("corrupt", "record %s has no core beside it" % path))
        return "broken"
    size, phdr_end, err = core_bytes(core)
    if err:
        problems.append(("corrupt", "%s does not decompress whole: %s" % (core, err)))
    truncated = rec.get("truncated") is True
    reason = rec.get("truncated_reason") or ""
    expected = rec.get("core_expected_size")
    if expected is None:
        stats["no_expected_size"] = stats.get("no_expected_size", 0) + 1
        problems.append(("expected", "%s: the record has no core_expected_size" % path))
    stats["cause"] = rec.get("truncated_cause") or ""
    if rec.get("core_size") not in (None, size):
        problems.append(("size", "%s: record core_size %s, the core decompresses to %d bytes" % (path, rec.get("core_size"), size)))
    if truncated:
        if not reason:
            problems.append(("reason", "%s: marked truncated without a truncated_reason" % path))
        return "truncated:" + word(reason or "?")
    # Not marked: the core must be whole by its own program headers, by the record, and by the
    # test's own knowledge (the crasher filled SIZE MiB of heap).
    if phdr_end is None:
        problems.append(("size", "%s: not marked truncated, but %d bytes hold no readable program headers" % (path, size)))
    elif size != phdr_end:
        problems.append(("size", "%s: not marked truncated, %d bytes but its program headers say %d (%.1f%%)" %
                         (path, size, phdr_end, 100.0 * size / phdr_end)))
    if expected is not None and expected != size:
        problems.append(("size", "%s: not marked truncated, %d bytes but core_expected_size %d" % (path, size, expected)))
    if size < t["size"] << 20:
        problems.append(("size", "%s: not marked truncated, %d bytes for a heap of %d MiB" % (path, size, t["size"])))
    return "complete"


def judge(name, t, log, ct_stores, fallback, stats):
    """(category, [problems]) for one crash."""
    problems = []
    lines = log[name]
    mine = records_of(ct_stores.get(t["ct"], "/nonexistent"), name)
    elsewhere = [r for ct, s in ct_stores.items() if ct != t["ct"] for r in records_of(s, name)]
    fb = fallback_records_of(fallback, name)
    line = lines[-1] if lines else ""
    if not fb and field(line, "receiver") == "fallback" and field(line, "file"):
        # A process reaped before anyone read its /proc is named from what the pipe held
        # (core.unknown....): the host log's line names the file it was stored as.
        stem = field(line, "file")
        stem = stem[:-4] if stem.endswith(".zst") else stem
        fb = sorted(glob.glob(os.path.join(fallback, "**", glob.escape(stem) + ".json"), recursive=True))
    if t["faulted"] and t["rc"] not in ("139", "137"):
        problems.append(("notacrash", "unknown fate: faulted, but the crasher's shell exited %s" % t["rc"]))
    if not t["faulted"]:
        # Not a crash (OOM-killed before it faulted, or the crasher could not allocate): the
        # helper never saw it, so nothing may name it.
        if t["rc"] not in ("137", "3"):
            problems.append(("notacrash", "unknown fate: the crasher's shell exited %s" % t["rc"]))
        if lines or mine or elsewhere or fb:
            problems.append(("notacrash", "did not crash (rc %s) but is in the ledger: %d log lines, %d records" %
                             (t["rc"], len(lines), len(mine) + len(elsewhere) + len(fb))))
        return "not-a-crash", problems
    if len(lines) != 1:
        problems.append(("log", "%d host log lines (expected exactly 1)" % len(lines)))
    line = lines[-1] if lines else ""
    outcome = field(line, "outcome") if line else None
    receiver = field(line, "receiver") if line else None
    if elsewhere:
        problems.append(("twice", "stored in another container's store: %s" % " ".join(elsewhere)))
    places = mine + fb + elsewhere
    if len(places) > 1:
        problems.append(("twice", "in %d places: %s" % (len(places), " ".join(places))))
    if mine:
        verdict = check_record(mine[0], t, problems, stats)
        if outcome == "stored" and receiver != "container":
            problems.append(("log", "stored in the container, but the host log says receiver=%s" % receiver))
        elif outcome not in ("stored", "receiver-died"):
            problems.append(("log", "stored in the container, but the host log says outcome=%s" % outcome))
        if outcome == "stored" and (field(line, "truncated") == "yes") != verdict.startswith("truncated"):
            problems.append(("log", "record says %s, host log truncated=%s" % (verdict, field(line, "truncated"))))
        return "container-" + verdict, problems
    if fb:
        verdict = check_record(fb[0], t, problems, stats)
        if outcome != "stored" or receiver != "fallback":
            problems.append(("log", "stored by the fallback, but the host log says outcome=%s receiver=%s" % (outcome, receiver)))
        return "fallback-" + verdict, problems
    if not line:
        problems.append(("missing", "missing from the ledger: no core anywhere and no host log line"))
        return "missing", problems
    if outcome in ("dropped", "skipped", "failed"):
        reason = field(line, "reason") or field(line, "fallback") or field(line, "error")
        if not reason:
            problems.append(("missing", "outcome=%s without a reason: %s" % (outcome, line)))
        return "logged-" + outcome, problems
    problems.append(("missing", "no core anywhere, host log says outcome=%s: %s" % (outcome, line[-300:])))
    return "lost-" + (outcome or "?"), problems


def main(argv):
    names_file = None
    if "--names" in argv:
        i = argv.index("--names")
        names_file = argv[i + 1]
        del argv[i : i + 2]
    truth_dir, log_path, fallback = argv[1:4]
    ct_stores = dict(a.split("=", 1) for a in argv[4:])
    if names_file:
        with open(names_file, encoding="utf-8") as f:
            names = [n.strip() for n in f if n.strip()]
    else:
        names = sorted(os.listdir(truth_dir))
    truth = read_truth(truth_dir, names)
    log = read_log(log_path, names)
    stats = {}
    failed = 0
    for name in names:
        t = truth[name]
        stats["cause"] = ""
        category, problems = judge(name, t, log, ct_stores, fallback, stats)
        detail = "-"
        line = log[name][-1] if log[name] else ""
        if "truncated" in category:
            detail = word(stats["cause"], 60)
        elif category.startswith("fallback"):
            why = field(line, "why") or ""
            detail = "refused:" + word(why.split("refused:", 1)[1]) if "refused:" in why else word(why)
        elif category.startswith("logged"):
            detail = word(field(line, "reason") or field(line, "fallback") or "")
        print("LEDGER %s %s %s %d %s" % (name, t["ct"], category, t["size"], detail))
        for kind, text in problems:
            print("FAIL %s (%s, %d MiB, %s): [%s] %s" % (name, t["ct"], t["size"], category, kind, text))
        failed += bool(problems)
    print("STAT records_without_core_expected_size %d" % stats.get("no_expected_size", 0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
