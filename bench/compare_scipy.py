#!/usr/bin/python3
"""Side-by-side: `lorageo solve` against an independent solver built on SciPy.

The independent solver is written here from the physics, sharing no code with lorageo:
WGS-84 geodetic -> ECEF, time of arrival with an unknown emission time, the device
height held at 0 m by a stiff pseudo-measurement, scipy.optimize.least_squares
(Levenberg-Marquardt, MINPACK). Both read the same seeded records (gen_records); the
script prints accuracy and speed of each and their ratios.

usage: compare_scipy.py LORAGEO GEN_RECORDS [FRAMES]      (Debian: python3-scipy)
"""
import json
import math
import subprocess
import sys
import time

import numpy as np
from scipy.optimize import least_squares

A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
C = 299792458.0


def ecef(lat, lon, h):
    p, l = math.radians(lat), math.radians(lon)
    n = A / math.sqrt(1 - E2 * math.sin(p) ** 2)
    return np.array([(n + h) * math.cos(p) * math.cos(l), (n + h) * math.cos(p) * math.sin(l),
                     (n * (1 - E2) + h) * math.sin(p)])


def geodetic(x):
    p = math.hypot(x[0], x[1])
    lat = math.atan2(x[2], p * (1 - E2))
    for _ in range(8):
        n = A / math.sqrt(1 - E2 * math.sin(lat) ** 2)
        lat = math.atan2(x[2] + E2 * n * math.sin(lat), p)
    h = p * math.cos(lat) + x[2] * math.sin(lat) - A * math.sqrt(1 - E2 * math.sin(lat) ** 2)
    return math.degrees(lat), math.degrees(math.atan2(x[1], x[0])), h


def haversine(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    k = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(k))


def solve(rec, sigma_m=C * 50e-9):
    g = np.array([ecef(r["lat"], r["lon"], r.get("alt", 0.0)) for r in rec["rx"]])
    t0 = min(r["time_ns"] for r in rec["rx"])
    toa = np.array([(r["time_ns"] - t0) * 1e-9 * C for r in rec["rx"]])
    c = g.mean(axis=0)
    lat0, lon0, _ = geodetic(c)
    x0 = np.append(ecef(lat0, lon0, 0.0), 0.0)
    x0[3] = np.mean(toa - np.linalg.norm(g - x0[:3], axis=1))

    def res(x):
        d = np.linalg.norm(g - x[:3], axis=1)
        return np.append((d + x[3] - toa) / sigma_m, geodetic(x[:3])[2] / 0.1)

    sol = least_squares(res, x0, method="lm", x_scale=[1000, 1000, 1000, 1000])
    lat, lon, _ = geodetic(sol.x[:3])
    return lat, lon


def main():
    lorageo, gen = sys.argv[1], sys.argv[2]
    frames = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    text = subprocess.run([gen, "--frames", str(frames), "--gateways", "4", "--sigma-ns", "50"],
                          capture_output=True, text=True, check=True).stdout
    records = [json.loads(l) for l in text.splitlines()]

    t = time.perf_counter()
    out = subprocess.run([lorageo, "solve", "--method", "nls", "--threads", "1"], input=text,
                         capture_output=True, text=True, check=True).stdout
    t_lg = time.perf_counter() - t
    fixes = {}
    for line in out.splitlines():
        o = json.loads(line)
        if "lat" in o:
            fixes[o["id"]] = (o["lat"], o["lon"])

    t = time.perf_counter()
    sp = {rec["id"]: solve(rec) for rec in records}
    t_sp = time.perf_counter() - t

    def errors(sol):
        return sorted(haversine(sol[r["id"]][0], sol[r["id"]][1], r["truth"]["lat"], r["truth"]["lon"])
                      for r in records if r["id"] in sol)

    e_lg, e_sp = errors(fixes), errors(sp)
    agree = sorted(haversine(fixes[i][0], fixes[i][1], sp[i][0], sp[i][1]) for i in fixes if i in sp)
    med = lambda v: v[len(v) // 2]
    print(json.dumps({
        "frames": frames, "gateways": 4, "sigma_ns": 50,
        "lorageo": {"fixes": len(e_lg), "median_error_m": round(med(e_lg), 3),
                    "mean_error_m": round(sum(e_lg) / len(e_lg), 3),
                    "records_per_s": round(frames / t_lg)},
        "scipy": {"fixes": len(e_sp), "median_error_m": round(med(e_sp), 3),
                  "mean_error_m": round(sum(e_sp) / len(e_sp), 3),
                  "records_per_s": round(frames / t_sp)},
        "median_distance_between_them_m": round(med(agree), 4),
        "speed_ratio_lorageo_over_scipy": round(t_sp / t_lg, 1),
        "accuracy_ratio_median_scipy_over_lorageo": round(med(e_sp) / med(e_lg), 4),
    }))


if __name__ == "__main__":
    main()
