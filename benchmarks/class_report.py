"""The figures of benchmarks/class_load.py, read from a finished run and from the database as
the host would read it: latencies to acknowledged and to the wall, drawings lost or duplicated,
the server's CPU per event, each against its goal."""

from __future__ import annotations

import bisect

from benchmarks.class_phases import Bench, Keep, Seen, Window, pct
from mnist_demo.classes.store import Classroom

# ---------------------------------------------------------------------------- the figures


def on_wall_latencies(keeps: list[Keep], order: list[int], seen: list[Seen]) -> dict[int, float]:
    """For each acknowledged keep: seconds from the page firing it to the first wall refresh whose
    count covers it (the wall shows the class's drawings oldest first, so count n = the first n)."""
    rank = {d: k + 1 for k, d in enumerate(order)}
    seen = sorted(seen, key=lambda s: s.at)
    times, best, running = [], [], 0
    for s in seen:
        running = max(running, s.count)
        times.append(s.at)
        best.append(running)
    out = {}
    for k in keeps:
        r = rank.get(k.drawing_id)
        if r is None:
            continue
        i = bisect.bisect_left(best, r)  # best is non-decreasing
        i = max(i, bisect.bisect_left(times, k.sent))
        while i < len(seen) and best[i] < r:
            i += 1
        if i < len(seen):
            out[k.drawing_id] = times[i] - k.sent
    return out


def report(bench: Bench) -> int:
    args, marks, failures = bench.args, bench.marks, []
    with Classroom(bench.folder) as room:
        stored = {c.code: room.drawings(c.code) for c in bench.classes}
        members = {c.code: room.summary(c.code).students for c in bench.classes}
    ids = {code: [d.drawing_id for d in rows] for code, rows in stored.items()}
    created = {code: {d.drawing_id: d.created for d in rows} for code, rows in stored.items()}
    in_class = {code: set(found) for code, found in ids.items()}
    where: dict[int, list[str]] = {}
    for code, found in ids.items():
        for d in found:
            where.setdefault(d, []).append(code)
    sent_by = {(k.code, k.drawing_id) for k in bench.keeps}

    def figures(label: str, codes: list[str], keeps: list[Keep], seen: dict[str, list[Seen]], steady) -> list:
        first = [k for k in keeps if not k.repeat]
        acked = [k for k in keeps if k.outcome == "acknowledged"]
        acked_ids = {k.drawing_id for k in acked}
        lost = sorted({k.drawing_id for k in acked if k.drawing_id not in in_class[k.code]})
        rows = sum(len(ids[c]) for c in codes)
        distinct = len({d for c in codes for d in ids[c]})
        dup = rows - distinct + sum(1 for c in codes for d in ids[c] if len(where[d]) > 1)
        sent_ids = {k.drawing_id for k in keeps}
        stored_unacked = sum(1 for c in codes for d in ids[c] if d in sent_ids and d not in acked_ids)
        timed = [k for k in acked if not k.repeat and steady(k.sent)]  # a double tap's second send: not timed
        ack = [k.acked - k.sent for k in timed]
        wall = {}
        for c in codes:
            wall |= on_wall_latencies([k for k in timed if k.code == c], ids[c], seen.get(c, []))
        never = sum(1 for k in timed if k.drawing_id not in wall)
        into_db = [created[k.code][k.drawing_id] - k.sent for k in timed if k.drawing_id in created[k.code]]
        outcomes: dict[str, int] = {}
        for k in first:
            outcomes[k.outcome] = outcomes.get(k.outcome, 0) + 1
        wl = list(wall.values())
        print(f"{label:26} {len(first):6d} {len(acked_ids):6d} {len(lost):5d} {dup:4d} {stored_unacked:7d}  "
              f"{pct(ack, 50) * 1e3:6.0f} {pct(ack, 95) * 1e3:6.0f}   "
              f"{pct(wl, 50) * 1e3:6.0f} {pct(wl, 95) * 1e3:6.0f} {max(wl, default=float('nan')) * 1e3:6.0f}  "
              f"{pct(into_db, 95) * 1e3:6.0f}  {never:5d}")
        return [lost, dup, ack, wl, outcomes, never]

    big = bench.classes[0].code
    kill, back = marks.get("kill"), marks.get("A after the restart")
    a_end = marks["A end"]

    def steady_a(t):  # keeps sent while the server ran steadily (not the 2 s before the kill, nor the outage)
        return marks["A start"] <= t < a_end and (kill is None or t < kill - 2 or t >= back)

    print(f"\nA class of {args.students} under load: {args.seconds:.0f} s, a keep every {args.every:g} s per student, "
          f"one wall ({bench.ev.wall_seconds:g} s refresh), student timers ({bench.ev.student_seconds:g} s)"
          + ("" if args.no_restart else f", kill -9 at {args.seconds / 2:.0f} s"))
    print(f"{'':26} {'keeps':>6} {'acked':>6} {'lost':>5} {'dup':>4} {'unacked':>7}  "
          f"{'ack ms':>6} {'':>6}   {'wall ms':>6} {'':>6} {'':>6}  {'db ms':>6}  {'never':>5}")
    print(f"{'':26} {'':>6} {'':>6} {'':>5} {'':>4} {'stored':>7}  {'p50':>6} {'p95':>6}   {'p50':>6} {'p95':>6} "
          f"{'max':>6}  {'p95':>6}  {'wall':>5}")
    a_keeps = [k for k in bench.keeps if k.code == big and marks["A start"] <= k.sent < a_end]
    lost, dup, ack, wl, outcomes, never = figures(f"A+B: class of {args.students}", [big],
                                                  [k for k in bench.keeps if k.code == big],
                                                  {big: bench.big_wall.seen}, steady_a)
    results = {"A": (lost, dup, ack, wl)}
    c_codes = [c.code for c in bench.classes[1:]]
    ran_c = "C start" in marks
    if ran_c:
        c_keeps = [k for k in bench.keeps if k.code in c_codes]
        seen = {w.code: w.seen for w in bench.small_walls}
        results["C"] = figures(f"C: {args.classes} classes of {args.class_size}", c_codes, c_keeps, seen,
                               lambda t: marks["C start"] <= t < marks["C end"])[:4]
    print("  (ack: keep fired -> its answer; wall: keep fired -> the wall page got a refresh covering it; "
          "db: keep fired -> its row's created time; steady windows only)")
    fates = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items(), key=lambda x: -x[1]))
    print(f"  what became of each keep in A+B ({args.double_taps:.0%} also sent twice, as a double tap): {fates}")

    # Restart
    if kill is not None:
        acked_before = {k.drawing_id for k in a_keeps if k.outcome == "acknowledged" and k.acked <= kill}
        missing = acked_before - set(ids[big])
        print(f"\nkill -9 at {kill - marks['A start']:.0f} s: server answering again {marks['restarted'] - kill:.1f} s "
              f"after it; pages reloaded and the wall's MNIST scores back {back - kill:.1f} s after it")
        print(f"  acknowledged before the kill: {len(acked_before)}; missing from the database after the run: "
              f"{len(missing)}")
        print(f"  students in the class's table after the reloads: {members[big]} (of {args.students} browsers; "
              f"a reloaded page sends its stored seat back, and is the same student)")
        if members[big] > args.students:
            failures.append(f"{members[big] - args.students} reloaded pages joined again as new students")
        if missing:
            failures.append(f"{len(missing)} drawings acknowledged before the kill are gone")

    # Five classes
    if not ran_c and args.classes:
        print(f"\n{args.classes} classes at once: not run (too little time left)")
        failures.append("the classes at once were not run")
    if ran_c:
        leaks = 0
        for w in bench.small_walls:
            own = set(ids[w.code])
            leaks += sum(1 for s in w.seen for d in s.ids if d not in own) + sum(1 for s in w.seen if s.code != w.code)
        crossed = sum(1 for k in bench.keeps if k.code in c_codes and k.outcome == "acknowledged"
                      and any(c != k.code for c in where.get(k.drawing_id, [])))
        foreign = sum(1 for c in c_codes for d in ids[c] if (c, d) not in sent_by)
        print(f"\n{args.classes} classes of {args.class_size} at once for {marks['C seconds']:.0f} s: "
              f"drawings in another class's rows {crossed}, rows not sent by the class's own students {foreign}, "
              f"drawings or codes of another class on a wall {leaks}")
        if crossed or foreign or leaks:
            failures.append("a drawing reached another class")

    # CPU
    w = bench.windows
    print("\nServer CPU (user + system, all threads, /proc/<pid>/stat); \"net\": less the idle server's own rate")
    base = w["B idle"].cpu / (w["B idle"].end - w["B idle"].start) if "B idle" in w else 0.0
    print(f"  idle, every page open and nothing happening: {base:.1%} of one core (its queue's polls)")

    def net(x: Window) -> float:
        return x.cpu - base * (x.end - x.start)

    all_in = [w[x] for x in ("A before the kill", "A after the restart", "A") if x in w]
    cpu, secs = sum(x.cpu for x in all_in), sum(x.end - x.start for x in all_in)
    n = sum(1 for k in a_keeps if not k.repeat and any(x.start <= k.sent < x.end for x in all_in))
    redraws = sum(1 for s in bench.big_wall.seen if any(x.start <= s.at < x.end for x in all_in))
    print(f"  A, all in (the keep event, {args.students} student timers, the wall redrawing {redraws} times): "
          f"{cpu:.1f} s over {secs:.0f} s ({cpu / secs:.0%} of one core); per keep {cpu / max(n, 1) * 1e3:.1f} ms, "
          f"net {sum(net(x) for x in all_in) / max(n, 1) * 1e3:.1f} ms ({n} keeps)")
    keep_net = None
    if "B keeps alone" in w:
        b = w["B keeps alone"]
        keep_net = net(b) / max(b.keeps, 1)
        print(f"  a keep alone (one event): {b.cpu / max(b.keeps, 1) * 1e3:.1f} ms, net {keep_net * 1e3:.1f} ms "
              f"({b.keeps} keeps in {b.end - b.start:.0f} s)")
    if "B wall redraws" in w and keep_net is not None:
        b = w["B wall redraws"]
        redraw = (net(b) - args.refreshes * keep_net) / max(b.redraws, 1)
        print(f"  a wall refresh that redraws, {marks.get('B class size', 0):,} drawings in the class: net "
              f"{redraw * 1e3:.1f} ms ({b.redraws} of {args.refreshes} redrew; the keeps before them subtracted); "
              f"one a second is {redraw / bench.ev.wall_seconds:.1%} of one core")
    alone = (("B wall, nothing new", "a wall refresh with nothing new", ""),
             ("B student timer ticks", "a student timer tick",
              f" ({args.students / bench.ev.student_seconds:.1f} a second for {args.students} students)"),
             ("B an event that does nothing", "an event that does nothing (a Cancel button, no inputs)", ""))
    for window, what, more in alone:  # each measured alone, args.refreshes times
        if window in w:
            print(f"  {what}: net {net(w[window]) / args.refreshes * 1e3:.1f} ms{more}")
    if "C" in w:
        c = w["C"]
        nc = sum(1 for k in bench.keeps if k.code in c_codes and not k.repeat and c.start <= k.sent < c.end)
        print(f"  C, all in ({args.classes} walls, {args.classes * args.class_size} students): {c.cpu:.1f} s over "
              f"{c.end - c.start:.0f} s ({c.cpu / (c.end - c.start):.0%} of one core); per keep "
              f"{c.cpu / max(nc, 1) * 1e3:.1f} ms, net {net(c) / max(nc, 1) * 1e3:.1f} ms ({nc} keeps)")

    print(f"  this client (all simulated pages, one process on the same machine) used {marks['client CPU in A']:.0f} s "
          f"of CPU during A; the server was first up {marks['first start']:.0f} s after the launch")

    # Ratios against the goals
    print("\nGoals:")
    for phase, (lost, dup, ack, wl) in results.items():
        print(f"  {phase}: lost {len(lost)} (goal 0), duplicated {dup} (goal 0); ack p95 / 0.5 s = "
              f"{pct(ack, 95) / 0.5:.2f}x; on the wall p95 / 2 s = {pct(wl, 95) / 2:.2f}x")
        if lost or dup:
            failures.append(f"{phase}: {len(lost)} lost, {dup} duplicated")
        if pct(ack, 95) > 0.5 or pct(wl, 95) > 2 or not ack:
            failures.append(f"{phase}: a latency bar missed")
    print(f"  client event loop lag p95 {pct(bench.lag, 95) * 1e3:.0f} ms, "
          f"max {max(bench.lag, default=0) * 1e3:.0f} ms (this client's own timing error)")
    if bench.problems:
        print("  pages:", "; ".join(f"{n} x {p}" for p, n in sorted(bench.problems.items(), key=lambda x: -x[1])))
    for f in failures:
        print(f"  MISSED: {f}")
    return 1 if failures else 0
