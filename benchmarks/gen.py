"""Generate a wallet_b-layout transaction CSV of N transactions with re-sends, and its expected roll-up.

Usage: python gen.py ROWS OUT.csv [--seed S] [--resend 0.03]
       python gen.py --check OUT.csv     (re-derive the expected roll-up from the CSV text alone)

One month (September 2023) of QR-wallet payments, sorted by time, with the sample season's header:
txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel
* 37 reporting regions weighted roughly by population, ~25 county codes each (plan-city districts roll up
  to the plan city, 6590xx to XPCC);
* the campaign's 43 MCCs plus two outside the map (category "other");
* merchants = clamp(rows / 250, 5 000, 200 000), each with a fixed county, MCC and channel;
* 96.5 % sales, 3 % refunds, 0.5 % reversals; lognormal ticket sizes with two decimals.

Re-sends (`--resend`, default 3 % of the ROWS transactions): a transaction sent again LATER in the file
with the same txn_id — after a delay drawn from an exponential of mean 6 h (past the month's end: at
the end of the file), 5 % of them in a batch appended at the very end (a re-sent file tail). Of the
re-sends:
* 55 % identical (the same line again);
* 10 % the same day at another time (the same contribution to the daily roll-up);
* 20 % with another amount (× 0.5–1.5, never the same);
* 15 % with another date (the time moved by −2, −1, +1, +2 or +3 days; it can leave September).
The rule every tool must apply is "the first occurrence of a txn_id in file order wins", so the
expected daily roll-up is the roll-up of the ROWS original transactions. It is computed here from the
generator's own integer arrays (never from the CSV text) and written beside the file:
* OUT.ref.parquet — date, institution, region_code, mcc, category, channel, txn_count, amount_fen,
  refund_fen, net_fen, merchant_count (distinct merchants with a sale), one row per group;
* OUT.ref.json — lines, transactions, re-sends by kind, daily rows, totals in fen.
`--check OUT.csv` reads the CSV with Python's csv module, keeps the first row of each txn_id, rolls it
up with integer fen and compares with OUT.ref.parquet: an independent check of the reference.
"""
import argparse
import csv
import json
import os
import pathlib
import tomllib

import numpy as np
import polars as pl

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLAN = ("2102", "3702", "3302", "3502", "4403")
KINDS = ("identical", "same_day_other_time", "other_amount", "other_date")
KIND_SHARE = (0.55, 0.10, 0.20, 0.15)
GROUP = ["date", "institution", "region_code", "mcc", "category", "channel"]


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


def reporting_region(county):
    """The reporting region of a county code (plan-city districts to the plan city, 6590xx to XPCC)."""
    if county.startswith("6590") or county == "XPCC":
        return "XPCC"
    if county[:4] in PLAN:
        return county[:4] + "00"
    return county[:2] + "0000"


def mcc_categories():
    campaign = tomllib.loads(
        (ROOT / "crates/homeseason-schema/data/campaign-2023.toml").read_text(encoding="utf-8")
    )
    return {m["code"]: m["category"] for m in campaign["mcc"]}


def to_csv_frame(df):
    """The CSV columns of a frame of transactions (txn_id already set)."""
    start = np.datetime64("2023-09-01T00:00:00", "ms")
    return df.select(
        pl.col("txn_id"),
        pl.lit("wallet_b").alias("institution"),
        (pl.lit(start) + pl.duration(seconds=pl.col("secs"))).dt.strftime("%Y-%m-%d %H:%M:%S").alias("txn_time"),
        ("M" + pl.col("merchant").cast(pl.String).str.zfill(7)).alias("merchant_id"),
        pl.col("mcc"),
        pl.col("region_code"),
        (
            (pl.col("fen") // 100).cast(pl.String) + "." + (pl.col("fen") % 100).cast(pl.String).str.zfill(2)
        ).alias("amount"),
        pl.col("txn_type"),
        pl.when(pl.col("online")).then(pl.lit("online")).otherwise(pl.lit("offline")).alias("channel"),
    )


def rollup(df, categories):
    """Roll originals (day index, county, …, integer fen) up to the daily groups, fen kept as integers."""
    sale = pl.col("txn_type") == "sale"
    return (
        df.with_columns(
            (pl.lit(np.datetime64("2023-09-01", "D")) + pl.duration(days=pl.col("secs") // 86400))
            .cast(pl.Date)
            .alias("date"),
            pl.lit("wallet_b").alias("institution"),
            pl.col("region_code").replace_strict(
                {c: reporting_region(c) for c in df["region_code"].unique().to_list()}
            ),
            pl.col("mcc").replace_strict(categories, default="other").alias("category"),
            pl.when(pl.col("online")).then(pl.lit("online")).otherwise(pl.lit("offline")).alias("channel"),
        )
        .group_by(GROUP)
        .agg(
            sale.sum().cast(pl.Int64).alias("txn_count"),
            pl.col("fen").filter(sale).sum().alias("amount_fen"),
            pl.col("fen").filter(~sale).sum().alias("refund_fen"),
            pl.col("merchant").filter(sale).n_unique().cast(pl.Int64).alias("merchant_count"),
        )
        .with_columns((pl.col("amount_fen") - pl.col("refund_fen")).alias("net_fen"))
    )


def summary(ref):
    return {
        "daily_rows": ref.height,
        "sales": int(ref["txn_count"].sum()),
        "amount_fen": int(ref["amount_fen"].sum()),
        "refund_fen": int(ref["refund_fen"].sum()),
        "net_fen": int(ref["net_fen"].sum()),
        "merchant_count_sum": int(ref["merchant_count"].sum()),
    }


def generate(a):
    rng = np.random.default_rng(a.seed)
    # The re-sends draw from their own stream: the original transactions are the same whatever --resend.
    rs_rng = np.random.default_rng([a.seed, 1])
    categories = mcc_categories()
    mccs = list(categories) + ["5999", "7299"]
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
    month_secs = 30 * 86400
    block = 2_000_000
    written = 0
    lines = 0
    kind_counts = dict.fromkeys(KINDS, 0)
    pending = None  # re-sends not yet due
    refs = []
    carry = None  # originals of the last (possibly unfinished) day of the previous block
    tmp = a.out + ".part"
    with open(tmp, "wb") as f:
        f.write(b"txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n")
        while written < a.rows:
            n = min(block, a.rows - written)
            lo = month_secs * written // a.rows
            hi = month_secs * (written + n) // a.rows
            last = written + n == a.rows
            secs = np.sort(rng.integers(lo, max(hi, lo + 1), n))
            merchant = rng.choice(n_merchants, n, p=m_pop)
            kind = rng.random(n)
            ttype = np.where(kind < 0.965, "sale", np.where(kind < 0.995, "refund", "reversal"))
            fen = np.maximum(100, np.round(rng.lognormal(np.log(180.0), 1.1, n) * 100)).astype(np.int64)
            seq = np.arange(written + 1, written + n + 1)
            base = pl.DataFrame(
                {
                    "seq": seq,
                    "secs": secs.astype(np.int64),
                    "merchant": merchant,
                    "mcc": mcc_arr[m_mcc[merchant]],
                    "region_code": county_arr[m_county[merchant]],
                    "fen": fen,
                    "txn_type": ttype,
                    "online": m_online[merchant],
                }
            ).with_columns(
                (
                    "WB"
                    + (pl.lit(np.datetime64("2023-09-01", "D")) + pl.duration(days=pl.col("secs") // 86400))
                    .cast(pl.Date)
                    .dt.strftime("%Y%m%d")
                    + pl.col("seq").cast(pl.String).str.zfill(9)
                ).alias("txn_id"),
                pl.col("secs").alias("key"),
                pl.lit(0, pl.Int8).alias("resend"),
            )
            # The expected roll-up: originals only, whole days (a day can straddle two blocks).
            orig = base if carry is None else pl.concat([carry, base])
            if not last:
                last_day = int(secs[-1]) // 86400
                carry = orig.filter(pl.col("secs") // 86400 >= last_day)
                orig = orig.filter(pl.col("secs") // 86400 < last_day)
            if orig.height:
                refs.append(rollup(orig, categories))
            # Re-sends of this block's transactions, due after a delay.
            idx = np.nonzero(rs_rng.random(n) < a.resend)[0]
            k = len(idx)
            which = rs_rng.choice(len(KINDS), k, p=KIND_SHARE)
            late = rs_rng.random(k) < 0.05
            delay = np.where(late, 40 * 86400, 0) + 1 + rs_rng.exponential(6 * 3600, k).astype(np.int64)
            new_secs = secs[idx].astype(np.int64).copy()
            new_fen = fen[idx].copy()
            same_day = which == 1
            moved = (new_secs - new_secs % 86400) + rs_rng.integers(0, 86400, k)
            moved = np.where(moved == new_secs, new_secs - new_secs % 86400 + (new_secs + 1) % 86400, moved)
            new_secs = np.where(same_day, moved, new_secs)
            other_amount = which == 2
            scaled = np.maximum(1, np.round(new_fen * rs_rng.uniform(0.5, 1.5, k))).astype(np.int64)
            scaled = np.where(scaled == new_fen, new_fen + 1, scaled)
            new_fen = np.where(other_amount, scaled, new_fen)
            other_date = which == 3
            shift = rs_rng.choice(np.array([-2, -1, 1, 2, 3]), k) * 86400
            new_secs = np.where(other_date, new_secs + shift, new_secs)
            for i, name in enumerate(KINDS):
                kind_counts[name] += int((which == i).sum())
            rs = base[idx].with_columns(
                pl.Series("secs", new_secs),
                pl.Series("fen", new_fen),
                pl.Series("key", secs[idx].astype(np.int64) + delay),
                pl.lit(1, pl.Int8).alias("resend"),
            )
            pending = rs if pending is None else pl.concat([pending, rs])
            due = pending if last else pending.filter(pl.col("key") < hi)
            pending = pending.filter(pl.col("key") >= hi)
            out = pl.concat([base, due]).sort(["key", "resend", "seq"])
            to_csv_frame(out).write_csv(f, include_header=False)
            lines += out.height
            written += n
    ref = pl.concat(refs).sort(GROUP)
    ref.write_parquet(a.out + ".ref.parquet")
    meta = {
        "transactions": a.rows,
        "lines": lines,
        "resends": kind_counts,
        "resend_share": a.resend,
        "seed": a.seed,
        # What homeseason's ingest reports: an identical re-send, or one whose daily contribution is
        # the same (day, region, MCC, channel, sale or not, amount, merchant), is a duplicate; one with
        # another amount or another day is a conflict (its row goes to rejects, the first is kept).
        "homeseason_expected": {
            "duplicates": kind_counts["identical"] + kind_counts["same_day_other_time"],
            "conflicts": kind_counts["other_amount"] + kind_counts["other_date"],
        },
        "reference": summary(ref),
    }
    pathlib.Path(a.out + ".ref.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, a.out)
    print(
        f"{a.rows} transactions + {lines - a.rows} re-sends = {lines} lines, {n_merchants} merchants, "
        f"{len(county_arr)} counties -> {a.out}; reference {ref.height} daily rows, net {summary(ref)['net_fen']} fen"
    )


def check(path):
    """Re-derive the expected roll-up from the CSV text (csv module, first row of each txn_id wins)."""
    categories = mcc_categories()
    seen = set()
    groups = {}
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        for txn_id, inst, t, merchant, mcc, county, amount, ttype, channel in r:
            if txn_id in seen:
                continue
            seen.add(txn_id)
            yuan, _, cents = amount.partition(".")
            fen = int(yuan) * 100 + int(cents.ljust(2, "0"))
            key = (t[:10], inst, reporting_region(county), mcc, categories.get(mcc, "other"), channel)
            g = groups.get(key)
            if g is None:
                g = groups[key] = [0, 0, 0, set()]
            if ttype == "sale":
                g[0] += 1
                g[1] += fen
                g[3].add(merchant)
            else:
                g[2] += fen
    got = pl.DataFrame(
        [(*k, g[0], g[1], g[2], g[1] - g[2], len(g[3])) for k, g in groups.items()],
        schema=GROUP + ["txn_count", "amount_fen", "refund_fen", "net_fen", "merchant_count"],
        orient="row",
    ).with_columns(pl.col("date").str.to_date())
    ref = pl.read_parquet(path + ".ref.parquet")
    cols = ["txn_count", "amount_fen", "refund_fen", "net_fen", "merchant_count"]
    j = ref.join(got, on=GROUP, how="full", coalesce=True, suffix="_csv")
    bad = j.filter(pl.any_horizontal([pl.col(c).ne_missing(pl.col(c + "_csv")) for c in cols]))
    print(f"{path}: {len(seen)} distinct txn_ids, {got.height} daily rows from the CSV text; "
          f"reference {ref.height} rows; {bad.height} rows differ")
    if bad.height:
        print(bad.head(10))
        raise SystemExit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="?", type=int)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--seed", type=int, default=20230901)
    ap.add_argument("--resend", type=float, default=0.03, help="share of transactions sent again later")
    ap.add_argument("--check", metavar="CSV", help="check CSV against CSV.ref.parquet from its text alone")
    a = ap.parse_args()
    if a.check:
        check(a.check)
    elif a.rows is None or a.out is None:
        ap.error("ROWS and OUT are required (or --check CSV)")
    else:
        generate(a)


if __name__ == "__main__":
    main()
