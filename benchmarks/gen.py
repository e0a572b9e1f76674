"""Generate a wallet_b-layout transaction CSV of N rows (sample season layout, realistic cardinalities).

Usage: python gen.py ROWS OUT.csv [--seed S]

One month (September 2023) of QR-wallet payments, sorted by time, with the sample season's header:
txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel
* 37 reporting regions weighted roughly by population, ~25 county codes each (plan-city districts roll up
  to the plan city, 6590xx to XPCC);
* the campaign's 43 MCCs plus two outside the map (category "other");
* merchants = clamp(rows / 250, 5 000, 200 000), each with a fixed county, MCC and channel;
* 96.5 % sales, 3 % refunds, 0.5 % reversals; lognormal ticket sizes with two decimals.
"""
import argparse
import csv
import os
import pathlib
import tomllib

import numpy as np
import polars as pl

ROOT = pathlib.Path(__file__).resolve().parent.parent


def regions():
    with open(ROOT / "crates/homeseason-schema/data/regions.csv", encoding="utf-8") as f:
        return [r["code"] for r in csv.DictReader(f)]


def counties(code, rng):
    if code == "XPCC":
        return [f"6590{i:02d}" for i in range(1, 12)]
    if code[2:4] != "00":  # a plan city: its districts
        return [f"{code[:4]}{i:02d}" for i in range(2, 14)]
    out = []
    for pref in range(1, 9):
        for cty in range(1, 5):
            c = f"{code[:2]}{pref:02d}{cty:02d}"
            if not any(c.startswith(p) for p in ("2102", "3702", "3302", "3502", "4403", "6590")):
                out.append(c)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20230901)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    campaign = tomllib.loads(
        (ROOT / "crates/homeseason-schema/data/campaign-2023.toml").read_text(encoding="utf-8")
    )
    mccs = [m["code"] for m in campaign["mcc"]] + ["5999", "7299"]
    codes = regions()
    county_list = []
    for c in codes:
        county_list.extend(counties(c, rng))
    county_arr = np.array(county_list)
    weights = rng.pareto(1.2, len(county_arr)) + 1.0
    weights /= weights.sum()
    n_merchants = int(min(200_000, max(5_000, a.rows // 250)))
    m_county = rng.choice(len(county_arr), n_merchants, p=weights)
    m_mcc = rng.integers(0, len(mccs), n_merchants)
    m_online = rng.random(n_merchants) < 0.3
    m_pop = 1.0 / np.arange(1, n_merchants + 1) ** 0.8
    rng.shuffle(m_pop)
    m_pop /= m_pop.sum()
    mcc_arr = np.array(mccs)
    start = np.datetime64("2023-09-01T00:00:00")
    month_secs = 30 * 86400
    block = 2_000_000
    written = 0
    tmp = a.out + ".part"
    with open(tmp, "wb") as f:
        f.write(b"txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n")
        while written < a.rows:
            n = min(block, a.rows - written)
            lo = month_secs * written // a.rows
            hi = month_secs * (written + n) // a.rows
            secs = np.sort(rng.integers(lo, max(hi, lo + 1), n))
            merchant = rng.choice(n_merchants, n, p=m_pop)
            kind = rng.random(n)
            ttype = np.where(kind < 0.965, "sale", np.where(kind < 0.995, "refund", "reversal"))
            fen = np.maximum(100, np.round(rng.lognormal(np.log(180.0), 1.1, n) * 100)).astype(np.int64)
            seq = np.arange(written + 1, written + n + 1)
            df = pl.DataFrame(
                {
                    "seq": seq,
                    "t": (start + secs.astype("timedelta64[s]")).astype("datetime64[ms]"),
                    "merchant": merchant,
                    "mcc": mcc_arr[m_mcc[merchant]],
                    "region_code": county_arr[m_county[merchant]],
                    "fen": fen,
                    "txn_type": ttype,
                    "online": m_online[merchant],
                }
            )
            df = df.select(
                ("WB" + pl.col("t").dt.strftime("%Y%m%d") + pl.col("seq").cast(pl.String).str.zfill(9)).alias("txn_id"),
                pl.lit("wallet_b").alias("institution"),
                pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S").alias("txn_time"),
                ("M" + pl.col("merchant").cast(pl.String).str.zfill(7)).alias("merchant_id"),
                pl.col("mcc"),
                pl.col("region_code"),
                (
                    (pl.col("fen") // 100).cast(pl.String)
                    + "."
                    + (pl.col("fen") % 100).cast(pl.String).str.zfill(2)
                ).alias("amount"),
                pl.col("txn_type"),
                pl.when(pl.col("online")).then(pl.lit("online")).otherwise(pl.lit("offline")).alias("channel"),
            )
            df.write_csv(f, include_header=False)
            written += n
    os.replace(tmp, a.out)
    print(f"{a.rows} rows, {n_merchants} merchants, {len(county_arr)} counties -> {a.out}")


if __name__ == "__main__":
    main()
