#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*) from small files the project
ships or generates. Usage: python3 fuzz/make_seeds.py SYNTH_DIR TEMPLATE_DIR
  SYNTH_DIR:    `homeseason synth --out SYNTH_DIR --seed 3 --scale 0.01`
  TEMPLATE_DIR: `homeseason template enterprise-sales|activities --format xlsx|csv --out TEMPLATE_DIR/...`
Idempotent: seeds are rewritten; files the fuzzer added (hash names) are left alone."""
import gzip, io, json, os, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
synth, templates = Path(sys.argv[1]), Path(sys.argv[2])


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)
    return data


def head(path, n):
    return "".join(Path(path).read_text(encoding="utf-8-sig").splitlines(True)[:n])


# ---- csv_ingest ---------------------------------------------------------------------------------
daily = head(synth / "payments/acq_a/payment_daily_acq_a_2023-09.csv", 10)
txn = head(synth / "payments/wallet_b/payment_transactions_wallet_b_2023-09.csv", 10)
sales = head(synth / "enterprise_sales/enterprise_sales_330000.csv", 8)
acts = head(synth / "activities/activities_330000.csv", 5)
retail = head(synth / "retail_stats/retail_stats_provincial.csv", 8)
c = "csv_ingest"
put(c, "payment_daily.csv", daily)
put(c, "payment_transactions.csv", txn)
put(c, "enterprise_sales.csv", sales)
put(c, "activities.csv", acts)
put(c, "retail_stats.csv", retail)
# A national retail table (no region column), and the feeds in other encodings and wrappers.
lines = retail.splitlines()
hdr = lines[0].split(",")
ri = hdr.index("region_code")
put(c, "retail_national.csv", "\n".join(",".join(x for i, x in enumerate(l.split(",")) if i != ri) for l in lines) + "\n")
put(c, "enterprise_sales_gb18030.csv", sales.encode("gb18030"))
put(c, "activities_bom.csv", b"\xef\xbb\xbf" + acts.encode())
put(c, "payment_transactions.csv.gz", gzip.compress(txn.encode(), mtime=0))
put(c, "bank_c_gbk.csv", (ROOT / "tests/fixtures/payments/bank_c/payment_transactions_bank_c_2023-09.csv").read_bytes())
rows = [l.split(",") for l in txn.splitlines()]
put(c, "payment_transactions.jsonl", "".join(json.dumps(dict(zip(rows[0], r)), ensure_ascii=False) + "\n" for r in rows[1:]))
# Hand-typed values the forgiving parsers accept: units in cells, full-width digits, Chinese periods.
put(c, "enterprise_sales_messy.csv",
    "统一社会信用代码,企业名称,地区,品类,统计期,销售额（万元）,线上/线下,品牌\n"
    "91330000MAXQ7038RM,杭州联雅家电有限公司,浙江,家电,2023年9月,\"1,234.5\",线上,瑞华\n"
    "91330000MAXQ7038RM,杭州联雅家电有限公司,330106,家具,２０２３－１０,１２.５万元,线下,瑞华\n"
    "91330000MAXQ7038RM,杭州联雅家电有限公司,Zhejiang,家纺,2023-W37,3亿,线下,\n"
    "bad,,火星,?,上月,abc,x,\n")
for f in sorted(templates.glob("*.csv")):
    put(c, "template_" + f.name, f.read_bytes())
try:
    import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq
    t = pacsv.read_csv(io.BytesIO(txn.encode()), convert_options=pacsv.ConvertOptions(column_types={k: pa.string() for k in rows[0]}))
    buf = io.BytesIO()
    pq.write_table(t, buf, compression="snappy")
    put(c, "payment_transactions.parquet", buf.getvalue())
except ImportError:
    print("pyarrow missing: no Parquet seed", file=sys.stderr)


# ---- xlsx_ingest --------------------------------------------------------------------------------
def cell(ref, v):
    if isinstance(v, (int, float)):
        return f'<c r="{ref}"><v>{v}</v></c>'
    v = str(v).replace("&", "&amp;").replace("<", "&lt;")
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{v}</t></is></c>'


def sheet_xml(rows, first=1):
    out = []
    for i, row in enumerate(rows):
        r = first + i
        cells = "".join(cell(f"{chr(65 + j)}{r}", v) for j, v in enumerate(row) if v is not None)
        out.append(f'<row r="{r}">{cells}</row>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<sheetData>{"".join(out)}</sheetData></worksheet>')


def xlsx(sheets):
    """A minimal workbook: [(name, rows, state)]; rows of str/number/None."""
    ns = "http://schemas.openxmlformats.org/"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(len(sheets)))
                   + '</Types>')
        z.writestr("_rels/.rels",
                   f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{ns}officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}spreadsheetml/2006/main" xmlns:r="{ns}officeDocument/2006/relationships"><sheets>'
                   + "".join(f'<sheet name="{n}" sheetId="{i + 1}" {"state=%s" % chr(34) + st + chr(34) if st else ""} r:id="rId{i + 1}"/>' for i, (n, _, st) in enumerate(sheets))
                   + '</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}package/2006/relationships">'
                   + "".join(f'<Relationship Id="rId{i + 1}" Type="{ns}officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(sheets)))
                   + '</Relationships>')
        for i, (_, rows, _) in enumerate(sheets):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", sheet_xml(rows))
    return buf.getvalue()


x = "xlsx_ingest"
csv_rows = lambda text: [l.split(",") for l in text.splitlines()]
s = csv_rows(sales)
put(x, "enterprise_sales.xlsx", xlsx([
    ("填写说明", [["统一社会信用代码 请填写18位代码"], ["销售额 单位见“单位”列"]], None),
    ("数据", [["2023年重点企业销售数据报表"], ["填报单位：浙江省商务厅"], s[0],
              ["USCC", "Company", "Region", "Category", "Period", "Sales", "Unit", "Channel", "Brand"],
              s[1][:4] + [45170, 1250, "万元"] + s[1][7:], [], s[2][:5] + ["1,234.5"] + s[2][6:], ["注：销售额为含税金额"]], None),
]))
a = csv_rows(acts)
put(x, "activities.xlsx", xlsx([("Sheet1", [a[0], a[1][:4] + [45173, 45218] + a[1][6:], a[2]], None),
                                 ("hidden", [a[0], a[3]], "hidden")]))
r = csv_rows(retail)
put(x, "retail_two_sheets.xlsx", xlsx([("A", r[:4], None), ("B", [r[0]] + r[4:], None)]))
put(x, "payment_daily.xlsx", xlsx([("d", csv_rows(daily), None)]))
put(x, "payment_transactions.xlsx", xlsx([("t", csv_rows(txn), None)]))
for f in sorted(templates.glob("*.xlsx")):
    put(x, "template_" + f.name, f.read_bytes())
put(x, "guangdong.xls", (ROOT / "tests/e2e/fixtures/enterprise_sales_guangdong.xls").read_bytes())

# ---- parsers: one value per line ----------------------------------------------------------------
p = "parsers"
put(p, "regions.txt", "浙江省\n浙江\nZhejiang\nzhe jiang\n330106\n330200\n宁波\n659001\n兵团\nXPCC\n660000\n000000\n\n  ３３０１０６ \n")
put(p, "amounts.txt", "1,234.5\n１２３４\n12.5万元\n3亿\n¥300元\n（万元）\n销售额（万元）\n-0.005\n+12\n0.125\n999999999999999\n1e308\nNaN\n")
put(p, "dates.txt", "2023-09-01\n2023/9/1\n2023.9.1\n20230901\n2023年9月1日\n2023-09-01 10:00:00\n2023-09-01T10:00:00+08:00\n2023-02-30\n1693533600\n1693533600000\n")
put(p, "periods.txt", "2023-09\n2023/9\n202309\n2023年9月\n2023年9月份\n2023-W37\n2023年第37周\n2023-09-01~2023-09-30\n2023-09-01至2023-09-15\n2023-13\n上月\n")
put(p, "yes_no.txt", "是\n否\nY\nn\ntrue\n1\n0\n有\n无\n√\n")

# ---- multipart: upload bodies (boundary of homeseason_server::fuzzing::BOUNDARY) -----------------
B = "----homeseasonfuzzboundary"


def body(name, data, feed=None, extra=None):
    out = b""
    if feed is not None:
        out += f'--{B}\r\nContent-Disposition: form-data; name="feed"\r\n\r\n{feed}\r\n'.encode()
    if extra is not None:
        out += f'--{B}\r\nContent-Disposition: form-data; name="note"\r\n\r\n{extra}\r\n'.encode()
    out += (f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            'Content-Type: application/octet-stream\r\n\r\n').encode()
    if isinstance(data, str):
        data = data.encode()
    return out + data + f"\r\n--{B}--\r\n".encode()


m = "multipart"
zj_sales = "".join(l for i, l in enumerate(sales.splitlines(True)) if i < 4)
put(m, "enterprise_sales.csv", body("enterprise_sales_330000.csv", zj_sales, feed="enterprise_sales"))
put(m, "activities_auto.csv", body("activities_330000.csv", acts, feed="auto", extra="hello"))
put(m, "activities.xlsx", body("activities.xlsx", (CORPUS / x / "seed-activities.xlsx").read_bytes()))
put(m, "gzip.csv.gz", body("payment_transactions.csv.gz", gzip.compress(txn.encode(), mtime=0), feed="payment_transactions"))
put(m, "foreign_region.csv", body("daily.csv", daily))
put(m, "bad_name.csv", body("../../etc/passwd.csv", acts))
put(m, "wrong_type.exe", body("setup.exe", b"MZ\x90\x00"))
put(m, "two_files.csv", body("a.csv", acts)[:-len(f"--{B}--\r\n")] + body("b.csv", acts)[0:0] +
    f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n\r\nx\r\n--{B}--\r\n'.encode())
put(m, "no_file.txt", f'--{B}\r\nContent-Disposition: form-data; name="feed"\r\n\r\nactivities\r\n--{B}--\r\n')
put(m, "truncated.csv", body("activities.csv", acts)[:-12])
put(m, "empty", b"")
