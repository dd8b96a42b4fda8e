"""The peer for bench_sim: the spacecraft scenario's cycle as the Python
prototype ran it (intent manager, policy/safety gate, one mutation per
cycle), with the same rules as scenarios/spacecraft.yaml and telemetry off.
Prints cycles per second (median of 5 runs)."""
import statistics
import sys
import time


class Intent:
    __slots__ = ("id", "type", "blocked", "done", "ref", "tol")

    def __init__(self, iid, itype, ref=0.0, tol=0.0):
        self.id, self.type, self.blocked, self.done = iid, itype, 0, False
        self.ref, self.tol = ref, tol


def run(cycles):
    pos, bat, temp, mode = 0.0, 4.0, 120.0, "NOMINAL"
    intents = [Intent(1, "orbit_correction", 3.0, 0.1)]
    next_id, lock_id, lock_until = 2, 0, 0
    for tick in range(1, cycles + 1):
        bat += 1.2 * 0.95 - 0.6 if tick % 20 < 14 else -0.6
        bat = min(100.0, max(0.0, bat))
        if bat <= 10 or temp >= 120:
            mode = "SAFE"
        elif mode == "SAFE" and bat >= 19.5 and temp <= 101:
            mode = "NOMINAL"
        elif bat <= 25:
            mode = "LOW_POWER"
        elif mode == "LOW_POWER" and bat >= 29.5:
            mode = "NOMINAL"
        # The prototype deleted completed intents (we archive them); doing
        # the same here keeps the peer's per-cycle cost flat.
        intents = active = [i for i in intents if not i.done]
        types = {i.type for i in active}
        if (bat <= 10 or mode == "LOW_POWER") and "battery_recovery" not in types:
            intents.append(Intent(next_id, "battery_recovery")); next_id += 1
        if temp >= 120 and "thermal_recovery" not in types:
            intents.append(Intent(next_id, "thermal_recovery")); next_id += 1
        active = [i for i in intents if not i.done]
        best, best_score = None, None
        for i in active:
            if i.type == "orbit_correction":
                s = 100.0
            elif i.type == "battery_recovery":
                t = 30.0 if mode == "LOW_POWER" else 20.0
                s = 1000 * max(0.0, (t - bat) / t)
            else:
                s = 1000 * max(0.0, (temp - 100) / 100)
            if i.type.endswith("_recovery"):
                s += 50 if mode == "LOW_POWER" else (-200 if mode == "NOMINAL" else 0)
            s -= 0.5 * i.blocked
            if best is None or s > best_score:
                best, best_score = i, s
        crit = "battery_recovery" if bat <= 5 else ("thermal_recovery" if temp >= 140 else None)
        pick = best
        if crit:
            pick = next((i for i in active if i.type == crit), None)
            if pick is None:
                pick = Intent(next_id, crit); next_id += 1; intents.append(pick)
        elif lock_id and tick <= lock_until:
            pick = next((i for i in active if i.id == lock_id), best)
        if pick is None:
            continue
        rec = pick.type.endswith("_recovery")
        blocked = (not rec and (bat <= 0 or temp >= 150 or pos < -10 or pos > 10
                                or mode == "SAFE" or bat <= 10 or temp >= 120)) \
            or (mode == "LOW_POWER" and pick.type == "orbit_correction")
        if blocked:
            pick.blocked += 1
            continue
        if pick.type == "orbit_correction":
            pos += 0.5; bat -= 1.0; temp += 2.0
            pick.done = pos >= pick.ref - pick.tol
        elif pick.type == "battery_recovery":
            tgt = 20 if mode == "SAFE" else (30 if mode == "LOW_POWER" or bat < 30 else 20)
            bat = min(tgt, bat + 0.1 * (tgt - bat))
            pick.done = bat >= tgt
        else:
            temp -= 0.1 * (temp - 100)
            pick.done = temp <= 101
        bat = min(100.0, max(0.0, bat))
        if rec and not (lock_id == pick.id and tick <= lock_until):
            lock_id, lock_until = pick.id, tick + 3
    return pos, bat, temp, mode


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rates = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(n)
        rates.append(n / (time.perf_counter() - t0))
    print(f"python prototype loop   : {statistics.median(rates):10.0f} cycles/s "
          f"(median of 5 x {n} cycles, telemetry off)")


if __name__ == "__main__":
    main()
