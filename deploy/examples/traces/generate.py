#!/usr/bin/env python3
"""Writes the trace suite's CSV files (deterministic: fixed seeds).

Columns follow `signalscaler simulate`'s trace format: `t` in seconds, then one
column per signal of the trace's policy (see SUITE): a Total column is the
signal's value, an Average column the service-wide load in replica units
(e.g. CPU cores used / CPU request per pod), a Headroom column the capacity in
use. Run from anywhere: python3 deploy/examples/traces/generate.py
"""
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, header, rows):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(fmt(v) for v in r) + "\n")


def fmt(v):
    if isinstance(v, int):
        return str(v)
    return ("%.4f" % v).rstrip("0").rstrip(".")


def io_bound_agent_spike():
    # Seed 000 §1: a spike of 100 concurrent users that wait 10-60 s on the
    # LLM each; CPU stays near 5 % (0.0025 cores-per-request units each).
    rng = random.Random(0)
    rows = []
    for t in range(0, 2701, 15):
        if t < 600:
            req = 12
        elif t < 720:
            req = 12 + (t - 600) * 88 // 120  # ramp to 100 in two minutes
        elif t < 1800:
            req = 100
        else:
            req = 10
        req = max(0, req + rng.randint(-3, 3))
        rows.append((t, req, 0.0025 * req))
    write("io-bound-agent-spike.csv", ["t", "active_requests", "cpu"], rows)


def voice_agent_ramp():
    # Seed 002 §2.4: sessions ramp up over 20 minutes, hold for 40 (long
    # sessions, sustained), then end slowly. CPU load in replica units.
    rng = random.Random(2)
    rows = []
    for t in range(0, 5401, 10):
        if t < 600:
            load = 0.6
        elif t < 1800:
            load = 0.6 + 5.4 * (t - 600) / 1200
        elif t < 4200:
            load = 6.0
        else:
            load = max(0.6, 6.0 - 5.4 * (t - 4200) / 1200)
        rows.append((t, load * (1 + rng.uniform(-0.04, 0.04))))
    write("voice-agent-ramp.csv", ["t", "cpu"], rows)


def livekit_egress_burst():
    # Seed 002 §2.1: a burst of recordings takes 12 egress workers (one per
    # pod) within a minute and holds them 15 minutes; CPU 0.35 and memory
    # 0.30 (replica units) per busy worker.
    rows = []
    for t in range(0, 2401, 5):
        if t < 300:
            busy = 1
        elif t < 360:
            busy = 1 + (t - 300) * 11 // 60
        elif t < 1260:
            busy = 12
        else:
            busy = 2
        rows.append((t, 0.35 * busy, 0.30 * busy, busy))
    write("livekit-egress-burst.csv", ["t", "cpu", "memory", "egress_available"],
          rows)


def egress_recording_ramp():
    # Seed 002 §2.1, issue 15: LiveKit egress recordings in use climb by 1
    # every 10 s, from 1 at t=60 to 20 at t=250, hold 20 minutes, then end.
    # One recording per egress pod (capacityPerReplica 1): the Headroom
    # signal reads max(0, ready - in use), 0 spare however many are refused.
    # Audio recordings are light: CPU 0.2 and memory 0.25 (replica units) per
    # recording, below the seed's 50 % / 65 % until 2.5 recordings are
    # wanted per ready pod.
    rows = []
    for t in range(0, 2401, 5):
        if t < 60:
            busy = 0
        elif t < 1450:
            busy = min(20, (t - 60) // 10 + 1)
        else:
            busy = 0
        rows.append((t, 0.2 * busy, 0.25 * busy, busy))
    write("egress-recording-ramp.csv", ["t", "cpu", "memory",
                                        "egress_available"], rows)


def bursty_queue():
    # A queue that starts and ends at zero: bursts of jobs that workers drain
    # (the queue empties as capacity catches up); CPU 0.12 per job waiting.
    rng = random.Random(3)
    rows = []
    bursts = [(120, 40), (600, 90), (900, 25), (1500, 60)]
    for t in range(0, 2701, 5):
        jobs = 0.0
        for start, size in bursts:
            if start <= t < start + 240:
                jobs += size * math.exp(-(t - start) / 80.0)
        jobs = int(round(jobs)) if t < 2100 else 0
        if jobs > 0:
            jobs = max(0, jobs + rng.randint(-1, 1))
        rows.append((t, jobs, 0.12 * jobs))
    write("bursty-queue.csv", ["t", "jobs", "cpu"], rows)


def daily_curve():
    # Seed 004's capacity planning: a day of requests in flight, 40 at night
    # to ~720 at the afternoon peak (80 per replica: ~9 replicas), every 5
    # minutes; CPU 0.0075 and memory 0.008 (replica units) per request.
    rng = random.Random(4)
    rows = []
    for t in range(0, 86401, 300):
        h = t / 3600.0
        day = max(0.0, math.sin(math.pi * (h - 7) / 14)) if 7 <= h <= 21 else 0
        req = 40 + 680 * day ** 1.5
        req *= 1 + rng.uniform(-0.05, 0.05)
        rows.append((t, req, 0.0075 * req, 0.008 * req))
    write("daily-curve.csv", ["t", "in_flight_requests", "cpu", "memory"], rows)


def flash_crowd():
    # A flash crowd arrives, drops at once, comes back briefly (within the
    # scale-down window) and drops again. 2 requests per replica
    # (agentic-backend).
    rows = []
    for t in range(0, 2401, 15):
        if 600 <= t < 900 or 1080 <= t < 1200:
            req = 18
        else:
            req = 4
        rows.append((t, req, 0.3 * req / 2, 0.25 * req / 2))
    write("flash-crowd.csv", ["t", "in_flight_requests", "cpu", "memory"], rows)


def linear_ramp():
    # Seed 000 §1, as a ramp: requests in flight at the Parlant agent climb
    # linearly from 10 to 95 over 15 minutes (one more every ~10 s), hold 10
    # minutes, then fall back. 95 stays within the db-connections cap (5
    # pods of 20), so every controller can meet it. CPU as the spike's (5 %).
    rng = random.Random(5)
    rows = []
    for t in range(0, 2401, 15):
        if t < 300:
            req = 10.0
        elif t < 1200:
            req = 10 + 85 * (t - 300) / 900
        elif t < 1800:
            req = 95.0
        else:
            req = 10.0
        req = max(0, int(round(req)) + rng.randint(-1, 1))
        rows.append((t, req, 0.0025 * req))
    write("linear-ramp.csv", ["t", "active_requests", "cpu"], rows)


def morning_ramp():
    # Seed 004's capacity planning at the resolution of a scrape: a morning
    # of Consoul requests in flight, 40 at night, a half-cosine ramp from
    # 07:00 to 10:00 up to ~720 (80 per replica: 9 replicas), the day's
    # plateau until 13:00; one row every 30 s from 05:00 (t=0), noise 3 %.
    # CPU and memory per request as daily-curve.csv.
    rng = random.Random(6)
    rows = []
    for t in range(0, 8 * 3600 + 1, 30):
        h = 5 + t / 3600.0
        if h < 7:
            req = 40.0
        elif h < 10:
            req = 40 + 680 * (1 - math.cos(math.pi * (h - 7) / 3)) / 2
        else:
            req = 720.0
        req *= 1 + rng.uniform(-0.03, 0.03)
        rows.append((t, req, 0.0075 * req, 0.008 * req))
    write("morning-ramp.csv", ["t", "in_flight_requests", "cpu", "memory"],
          rows)


def flapping():
    # The flapping trace: requests in flight at the agentic backend oscillate
    # around a threshold, 9 to 11 against 2 per replica (5 pods carry 10, the
    # peaks need 6), with a period of 3 minutes for 40 minutes, then settle
    # at 8. A controller that follows each swing reverses every period.
    rows = []
    for t in range(0, 2401, 15):
        if t < 2100:
            req = 10 + 1.4 * math.sin(2 * math.pi * t / 180)
        else:
            req = 8.0
        rows.append((t, req, 0.3 * req / 2, 0.25 * req / 2))
    write("flapping.csv", ["t", "in_flight_requests", "cpu", "memory"], rows)


if __name__ == "__main__":
    io_bound_agent_spike()
    voice_agent_ramp()
    livekit_egress_burst()
    egress_recording_ramp()
    bursty_queue()
    daily_curve()
    flash_crowd()
    linear_ramp()
    morning_ramp()
    flapping()
