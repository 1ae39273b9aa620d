# ruff: noqa: E501  (the element tables read best one row a line)
"""Writes the demo target system (Kestrel Parcel's sorting network) under
src/frontdesk/demo/workspace/ops/target/: element files, a week of events and metrics with
four seeded incidents. Run once; the files are committed. Seeded, so a rerun writes the same
bytes. The element files are written with the same serialisers the folder target uses
(frontdesk.ops.folder.dump_element), so a plan's diff shows only the lines it changes.

    .venv/bin/python scripts/ops_demo_target.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from frontdesk.ops.folder import dump_element

ROOT = Path(__file__).resolve().parents[1] / "src/frontdesk/demo/workspace/ops/target"
WEEK = datetime(2026, 11, 30, tzinfo=UTC)  # Monday; the log runs to Sunday 6 December 23:59
DAYS5 = ["mon", "tue", "wed", "thu", "fri"]
DAYS6 = [*DAYS5, "sat"]

# id, name, city, region, cutoff, saturday cutoff, capacity/h, carriers, sorter
DEPOTS = [
    ("D01", "Dublin North", "Dublin", "Leinster", "17:30", "12:00", 1800, ["C-ANPOST", "C-DPD"], "S01"),
    ("D02", "Dublin South", "Dublin", "Leinster", "17:30", "12:00", 1800, ["C-ANPOST", "C-DPD"], "S02"),
    ("D03", "Dublin West", "Dublin", "Leinster", "17:30", "12:00", 1800, ["C-ANPOST", "C-DPD", "C-FASTWAY"], "S03"),
    ("D04", "Dublin Port", "Dublin", "Leinster", "17:30", "12:00", 1500, ["C-ANPOST", "C-FASTWAY", "C-DPD"], "S04"),
    ("D05", "Swords", "Dublin", "Leinster", "17:30", "12:00", 1500, ["C-ANPOST", "C-DPD"], "S05"),
    ("D06", "Naas", "Naas", "Leinster", "17:30", "12:00", 1200, ["C-ANPOST", "C-DPD"], None),
    ("D07", "Bray", "Bray", "Leinster", "17:30", "12:00", 1200, ["C-ANPOST", "C-DPD"], None),
    ("D08", "Navan", "Navan", "Leinster", "17:30", None, 900, ["C-ANPOST", "C-DPD"], None),
    ("D09", "Dundalk", "Dundalk", "Leinster", "17:30", None, 900, ["C-FASTWAY", "C-ANPOST", "C-DPD"], None),
    ("D10", "Wexford", "Wexford", "Leinster", "17:00", None, 900, ["C-ANPOST", "C-DPD"], None),
    ("D11", "Kilkenny", "Kilkenny", "Leinster", "17:00", None, 900, ["C-ANPOST", "C-DPD"], None),
    ("D12", "Athlone", "Athlone", "Leinster", "13:30", None, 900, ["C-ANPOST", "C-DPD"], None),
    ("D13", "Cork City", "Cork", "Munster", "17:00", "12:00", 1500, ["C-ANPOST", "C-DPD"], "S06"),
    ("D14", "Cork Airport", "Cork", "Munster", "17:00", "12:00", 1500, ["C-ANPOST", "C-DPD"], "S07"),
    ("D15", "Mallow", "Mallow", "Munster", "17:00", None, 900, ["C-ANPOST", "C-DPD"], None),
    ("D16", "Limerick", "Limerick", "Munster", "17:00", "12:00", 1200, ["C-ANPOST", "C-DPD"], "S08"),
    ("D17", "Limerick East", "Limerick", "Munster", "17:00", None, 900, ["C-ANPOST", "C-DPD"], None),
    ("D18", "Waterford", "Waterford", "Munster", "17:00", "12:00", 1200, ["C-ANPOST", "C-DPD"], "S09"),
    ("D19", "Tralee", "Tralee", "Munster", "16:30", None, 600, ["C-ANPOST", "C-DPD"], None),
    ("D20", "Ennis", "Ennis", "Munster", "16:30", None, 600, ["C-ANPOST", "C-DPD"], None),
    ("D21", "Clonmel", "Clonmel", "Munster", "16:30", None, 600, ["C-ANPOST", "C-DPD"], None),
    ("D22", "Killarney", "Killarney", "Munster", "16:30", None, 600, ["C-ANPOST", "C-DPD"], None),
    ("D23", "Galway City", "Galway", "Connacht", "16:30", "12:00", 1200, ["C-ANPOST", "C-FASTWAY"], "S10"),
    ("D24", "Galway East", "Galway", "Connacht", "16:30", None, 900, ["C-ANPOST", "C-FASTWAY"], None),
    ("D25", "Sligo", "Sligo", "Connacht", "16:30", None, 600, ["C-ANPOST", "C-FASTWAY"], None),
    ("D26", "Castlebar", "Castlebar", "Connacht", "16:30", None, 600, ["C-ANPOST", "C-FASTWAY"], None),
    ("D27", "Westport", "Westport", "Connacht", "16:00", None, 600, ["C-ANPOST", "C-FASTWAY"], None),
    ("D28", "Roscommon", "Roscommon", "Connacht", "16:00", None, 600, ["C-ANPOST", "C-FASTWAY"], None),
    ("D29", "Ballina", "Ballina", "Connacht", "16:00", None, 600, ["C-ANPOST", "C-FASTWAY"], None),
    ("D30", "Carrick-on-Shannon", "Carrick-on-Shannon", "Connacht", "16:00", None, 600, ["C-ANPOST", "C-FASTWAY"], None),
]  # fmt: skip

# id, depot, firmware, max rate, lanes
SORTERS = [
    ("S01", "D01", "4.1.2", 4800, 48), ("S02", "D02", "4.1.2", 4800, 48),
    ("S03", "D03", "4.1.2", 4800, 48), ("S04", "D04", "4.1.2", 4000, 40),
    ("S05", "D05", "4.1.2", 4000, 40), ("S06", "D13", "4.1.2", 4000, 40),
    ("S07", "D14", "4.2.0", 4000, 40), ("S08", "D16", "4.1.3", 3200, 32),
    ("S09", "D18", "4.1.3", 3200, 32), ("S10", "D23", "4.1.3", 3200, 32),
]  # fmt: skip

# id, origin, destination, carrier, departure, days
ROUTES = [
    ("R01", "D01", "HUB-ATHLONE", "C-DPD", "19:00", DAYS5),
    ("R02", "D02", "HUB-ATHLONE", "C-DPD", "19:00", DAYS5),
    ("R03", "D03", "HUB-ATHLONE", "C-ANPOST", "19:30", DAYS6),
    ("R04", "D04", "HUB-ATHLONE", "C-FASTWAY", "20:00", DAYS5),
    ("R05", "D05", "HUB-ATHLONE", "C-DPD", "19:30", DAYS5),
    ("R06", "D10", "HUB-ATHLONE", "C-ANPOST", "18:45", DAYS5),
    ("R07", "D13", "HUB-ATHLONE", "C-DPD", "18:30", DAYS6),
    ("R08", "D14", "HUB-ATHLONE", "C-DPD", "18:30", DAYS5),
    ("R09", "D16", "HUB-ATHLONE", "C-ANPOST", "18:45", DAYS5),
    ("R10", "D18", "HUB-ATHLONE", "C-ANPOST", "18:30", DAYS5),
    ("R11", "D23", "HUB-ATHLONE", "C-FASTWAY", "18:00", DAYS6),
    ("R12", "D10", "HUB-CORK", "C-DPD", "20:15", DAYS5),
]

CARRIERS = [
    ("C-ANPOST", "An Post", "https://api.anpost.example/labels/v3", 10, 3),
    ("C-DPD", "DPD Ireland", "https://api.dpd.example/ie/v2", 10, 3),
    ("C-FASTWAY", "Fastway Couriers", "https://api.fastway.example/v1", 15, 2),
]


def elements() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for id_, name, city, region, cutoff, sat, cap, carriers, sorter in DEPOTS:
        out[f"depots/{id_}.yaml"] = {
            "id": id_,
            "name": name,
            "region": region,
            "city": city,
            "enabled": True,
            "cutoff": cutoff,
            "saturday_cutoff": sat,
            "capacity_per_hour": cap,
            "sorter": sorter,
            "carriers": carriers,
            "schedule": {"open": "06:00", "close": "22:00", "days": DAYS6 if sat else DAYS5},
            "timezone": "Europe/Dublin",
        }
    for id_, depot, firmware, rate, lanes in SORTERS:
        out[f"sorters/{id_}.yaml"] = {
            "id": id_,
            "depot": depot,
            "model": "CrossBelt CB-600" if lanes >= 40 else "CrossBelt CB-400",
            "firmware": firmware,
            "max_rate": rate,
            "lanes": lanes,
            "jam_threshold_s": 30,
            "maintenance_day": "sun",
        }
    for id_, origin, dest, carrier, departure, days in ROUTES:
        out[f"routes/{id_}.json"] = {
            "id": id_,
            "origin": origin,
            "destination": dest,
            "carrier": carrier,
            "departure": departure,
            "days": days,
            "max_parcels": 4000,
            "enabled": True,
        }
    for id_, name, url, timeout, retries in CARRIERS:
        out[f"carriers/{id_}.json"] = {
            "id": id_,
            "name": name,
            "api_url": url,
            "timeout_s": timeout,
            "retries": retries,
            "enabled": True,
        }
    return out


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: int, hhmm: str, second: int = 0) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return WEEK + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def events_and_metrics() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rnd = random.Random(20)
    events: list[dict[str, object]] = []

    def event(moment: datetime, element: str, severity: str, code: str, message: str) -> None:
        events.append({"ts": ts(moment), "element": element, "severity": severity,
                       "code": code, "message": message})  # fmt: skip

    depots = {d[0]: d for d in DEPOTS}
    for day in range(7):
        weekday = day < 5
        for id_, _n, _c, _r, cutoff, sat, *_ in DEPOTS:
            if id_ == "D12" and day < 2:
                cutoff = "17:30"  # the bad edit came on Wednesday morning
            if weekday:
                event(at(day, cutoff), id_, "info", "CUTOFF_REACHED",
                      f"{id_} weekday cut-off {cutoff} reached; manifest closed")  # fmt: skip
            elif day == 5 and sat:
                event(at(day, sat), id_, "info", "CUTOFF_REACHED",
                      f"{id_} Saturday cut-off {sat} reached; manifest closed")  # fmt: skip
        for id_, origin, _d, carrier, departure, days in ROUTES:
            if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day] in days:
                event(at(day, departure, 30), id_, "info", "ROUTE_DEPARTED",
                      f"{id_} departed {origin} with {carrier}")  # fmt: skip

    # 1. Misconfigured cut-off: D12's weekday cut-off edited to 13:30 on Wednesday 09:12.
    event(at(2, "09:12"), "D12", "info", "CONFIG_CHANGED",
          "D12 cutoff changed from 17:30 to 13:30 by j.byrne (ticket OPS-4411)")  # fmt: skip
    for day, missed in ((2, 312), (3, 287), (4, 341)):
        event(at(day, "13:31"), "D12", "warning", "CUTOFF-EARLY",
              "D12 closed its manifest at 13:30, four hours before the region's 17:30")  # fmt: skip
        event(at(day, "17:35"), "D12", "error", "CUTOFF-MISSED",
              f"{missed} parcels scanned at D12 after its cut-off held to the next day")  # fmt: skip

    # 2. Carrier API outage: DPD's label API answers 503 on Tuesday 14:05-16:40.
    moment = at(1, "14:05")
    while moment < at(1, "16:40"):
        event(moment, "C-DPD", "error", "CARRIER-503",
              "DPD label API returned 503 Service Unavailable after 3 retries")  # fmt: skip
        moment += timedelta(minutes=5)
    for id_ in ("D01", "D02", "D05", "D13", "D14"):
        event(at(1, "14:20", rnd.randint(0, 59)), id_, "warning", "LABEL-BACKLOG",
              f"{id_} label queue for C-DPD over 500 parcels (carrier API failing)")  # fmt: skip
    event(at(1, "16:41"), "C-DPD", "info", "CARRIER-RECOVERED",
          "DPD label API answering again; backlog draining")  # fmt: skip

    # 3. Capacity overflow: D05 Swords on Thursday 16:00-19:00 (a retailer's promotion).
    for hour, inbound in (("16:00", 1720), ("17:00", 2140), ("18:00", 1960)):
        event(at(3, hour, 40), "D05", "error", "CAP-OVERFLOW",
              f"D05 inbound {inbound}/h exceeds capacity_per_hour 1500")  # fmt: skip
    event(at(3, "17:12"), "S05", "warning", "SORT-JAM",
          "S05 lane 12 jammed for 45 s (threshold 30 s) under overflow load")  # fmt: skip

    # 4. Bad deploy: firmware 4.2.0 to S07 (Cork Airport) on Saturday 22:00.
    event(at(5, "22:00"), "S07", "info", "DEPLOY",
          "S07 firmware 4.2.0 deployed (was 4.1.2) by release pipeline run 8812")  # fmt: skip
    moment = at(5, "22:04")
    while moment < at(6, "06:00"):
        event(moment, "S07", "error", "SORT-E17",
              "S07 lane map checksum mismatch after firmware 4.2.0; parcels diverted to reject lane")  # fmt: skip
        moment += timedelta(minutes=rnd.choice((7, 9, 11, 13)))
    event(at(6, "06:02"), "D14", "warning", "SORT-DEGRADED",
          "D14 sorting on manual lanes: S07 rejecting 38% of parcels")  # fmt: skip
    events.sort(key=lambda e: (str(e["ts"]), str(e["element"])))

    metrics: list[dict[str, object]] = []
    for day in range(7):
        for hour in range(6, 22):
            moment = WEEK + timedelta(days=day, hours=hour)
            for id_, *_rest in DEPOTS:
                cap = int(depots[id_][6])  # type: ignore[call-overload]
                if day == 6 or (day == 5 and depots[id_][5] is None):
                    inbound = 0
                else:
                    peak = 0.55 + 0.25 * (1 - abs(hour - 15) / 9)
                    inbound = int(cap * peak * rnd.uniform(0.85, 1.05))
                late = rnd.randint(0, 4) if inbound else 0
                if id_ == "D05" and day == 3 and 16 <= hour <= 18:
                    inbound = {16: 1720, 17: 2140, 18: 1960}[hour]
                    late = {16: 60, 17: 410, 18: 300}[hour]
                if id_ == "D12" and day in (2, 3, 4) and 13 <= hour <= 17:
                    late = rnd.randint(55, 80)
                if id_ in ("D01", "D02", "D05", "D13", "D14") and day == 1 and 14 <= hour <= 16:
                    late = rnd.randint(40, 90)
                metrics.append({"ts": ts(moment), "element": id_, "parcels_in": inbound,
                                "parcels_late": late,
                                "utilisation": round(inbound / cap, 2)})  # fmt: skip
            for id_, _depot, _fw, rate, _lanes in SORTERS:
                rejects = rnd.randint(0, 6)
                if id_ == "S07" and day == 6 and hour == 6:  # the night's last hour
                    rejects = rnd.randint(300, 420)
                metrics.append({"ts": ts(moment), "element": id_,
                                "sort_rate": int(rate * rnd.uniform(0.4, 0.7)) if day < 6 else 0,
                                "rejects": rejects})  # fmt: skip
    # Saturday night for S07, after the deploy (the depot's night shift sorts returns).
    for hour in (22, 23):
        metrics.append({"ts": ts(WEEK + timedelta(days=5, hours=hour)), "element": "S07",
                        "sort_rate": 900, "rejects": 350 + hour})  # fmt: skip
    metrics.sort(key=lambda m: (str(m["ts"]), str(m["element"])))
    return events, metrics


def main() -> None:
    for name, data in elements().items():
        path = ROOT / "elements" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dump_element(path.name, data))
    events, metrics = events_and_metrics()
    (ROOT / "events").mkdir(parents=True, exist_ok=True)
    (ROOT / "events" / "events.jsonl").write_text(
        "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    )
    (ROOT / "metrics").mkdir(parents=True, exist_ok=True)
    (ROOT / "metrics" / "metrics.jsonl").write_text(
        "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in metrics)
    )
    print(f"{len(elements())} elements, {len(events)} events, {len(metrics)} metric rows")


if __name__ == "__main__":
    main()
