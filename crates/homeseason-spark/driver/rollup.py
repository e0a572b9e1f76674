"""homeseason's bundled Spark driver: run the SQL that `homeseason_spark` generated, stage the results.

    spark-submit --master spark://HOST:PORT rollup.py JOB.json
    spark-submit --master local[1] rollup.py --inspect INSPECT.json

INSPECT.json names cluster URIs (`hdfs://`, `s3a://`, `file://` ...): the inspect mode opens each through
Hadoop's FileSystem (the JVM's, with the cluster's Hadoop configuration) and stages its first bytes
(`K.head`), its size and its SHA-256 computed in the JVM over the stream (`inspected.json`), so that
homeseason reads the header and hashes the file without ever opening the URI itself.

JOB.json (written by homeseason_spark::run_rollup) names the input files, the SQL views to create (all
generated in Rust from the campaign config, the table contracts and the institution profiles) and the
outputs to write. This script holds no rules of its own: it only

  1. reads every input file as lines of bytes (Hadoop text input: gzip by extension, large plain files
     split across tasks) and numbers the lines exactly (per file block: count and first row id, then
     offsets; the header is line 1) -- the view `lines(fid, line, bytes)`;
  2. refuses whole files that cannot be read (a damaged gzip stream) or whose quotes do not balance on
     each line (an unclosed quote, or a quoted field running over several lines), with a message;
  3. registers the tables homeseason staged (the lake's known ids and pairs) and creates the
     generated views in order, persisting those marked so;
  4. writes each output as Parquet under the staging folder (or collects it into summary.json).

Everything it prints to stdout is one JSON line at the end (the summary); Spark logs go to stderr.
"""
import json
import os
import sys
import time
import traceback

from pyspark import StorageLevel
from pyspark.sql import SparkSession, functions as F, types as T


def main(job_path):
    t0 = time.time()
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    staging = job["staging"]
    spark = SparkSession.builder.appName(job.get("app_name", "homeseason-rollup")).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    timings = {"session_s": round(time.time() - t0, 3)}
    refused = {}

    def scan(paths):
        """All files in one scan: (fpath, blk, mid, bytes)."""
        return spark.read.text(paths).select(
            F.col("_metadata.file_path").alias("fpath"),
            F.col("_metadata.file_block_start").alias("blk"),
            F.monotonically_increasing_id().alias("mid"),
            F.col("value").cast("binary").alias("bytes"),
        )

    by_path = {}
    for f in job["files"]:
        by_path.setdefault(norm_path(qualify(spark, f["path"])), []).append(f["fid"])

    # Pass 1: per block, the number of lines, the first row id and the lines whose quotes do not
    # balance (an odd number of '"'). Small, collected on the driver.
    t = time.time()
    blocks = []
    scanned = []
    while True:
        live = [f for f in job["files"] if f["fid"] not in refused]
        if not live:
            break
        odd = (F.length(F.regexp_replace(F.col("bytes").cast("string"), '[^"]', "")) % 2) == 1
        scanned = sorted({f["path"] for f in live})
        agg = scan(scanned).groupBy("fpath", "blk").agg(
            F.count(F.lit(1)).alias("n"),
            F.min("mid").alias("mid0"),
            F.sum(F.when(odd, 1).otherwise(0)).alias("odd"),
            F.max(F.when(odd, F.col("mid"))).alias("odd_last"),
        )
        try:
            blocks = agg.collect()
            break
        except Exception:  # a file Spark cannot read: find which, refuse it, go on with the others
            found = False
            for f in live:
                try:
                    scan([f["path"]]).agg(F.count(F.lit(1))).collect()
                except Exception as e:  # noqa: BLE001 (any reader failure refuses the file)
                    found = True
                    refused[f["fid"]] = describe_read_error(f, e)
            if not found:
                raise
    timings["line_numbers_s"] = round(time.time() - t, 3)
    offsets = []
    per_file = {}
    for b in sorted(blocks, key=lambda r: (r["fpath"], r["blk"])):
        fids = by_path.get(norm_path(b["fpath"]))
        if fids is None:
            raise RuntimeError(f"Spark read a file the job does not name: {b['fpath']}")
        for fid in fids:
            acc = per_file.setdefault(fid, {"lines": 0, "odd": 0, "odd_last": None})
            offsets.append((b["fpath"], b["blk"], fid, b["mid0"], acc["lines"]))
            if b["odd_last"] is not None:
                acc["odd_last"] = acc["lines"] + (b["odd_last"] - b["mid0"]) + 1
            acc["odd"] += b["odd"]
            acc["lines"] += b["n"]
    for fid, acc in per_file.items():
        if acc["odd"] == 0 or fid in refused:
            continue
        if acc["odd"] % 2 == 1:
            n = acc["odd_last"]
            refused[fid] = {
                "kind": "csv",
                "reason": f'a quote (") opened on line {n} is never closed / 第 {n} 行的引号（"）未闭合',
            }
        else:
            refused[fid] = {
                "kind": "csv",
                "reason": "a quoted field runs over several lines, which the Spark engine does not read "
                "(use --engine rust for this file) / 引号内的字段跨行，Spark 引擎不支持",
            }
    for f in job["files"]:
        if f["fid"] not in per_file and f["fid"] not in refused:
            refused[f["fid"]] = {"kind": "empty", "reason": "the file is empty / 文件为空"}
    live = [f for f in job["files"] if f["fid"] not in refused]
    schema = T.StructType([
        T.StructField("fpath", T.StringType()), T.StructField("blk", T.LongType()),
        T.StructField("fid", T.IntegerType()), T.StructField("mid0", T.LongType()),
        T.StructField("off", T.LongType()),
    ])
    off = spark.createDataFrame([o for o in offsets if o[2] not in refused], schema)
    if live:
        # The very scan of pass 1 (same files, so the same partitions and row ids); the join keeps the
        # files not refused.
        lines = scan(scanned).join(
            F.broadcast(off), ["fpath", "blk"]
        ).select(
            "fid", (F.col("off") + F.col("mid") - F.col("mid0") + 1).alias("line"), "bytes"
        )
    else:
        lines = spark.createDataFrame([], "fid INT, line BIGINT, bytes BINARY")
    lines.createOrReplaceTempView("lines")

    # Tables homeseason staged (the lake's known txn ids and merchant pairs), as views.
    for table in job.get("tables", []):
        if os.path.isdir(table["path"]) and any(n.endswith(".parquet") for n in os.listdir(table["path"])):
            df = spark.read.schema(table["ddl"]).parquet(table["path"])
        else:
            df = spark.createDataFrame([], table["ddl"])
        df.createOrReplaceTempView(table["name"])

    # The generated views, then the outputs.
    persisted = []
    for view in job["views"]:
        df = spark.sql(view["sql"])
        if view.get("persist"):
            df = df.persist(StorageLevel.DISK_ONLY)  # executors may have 1 GiB: keep nothing on the heap
            persisted.append(df)
        df.createOrReplaceTempView(view["name"])
    collected = {}
    for out in job["outputs"]:
        t = time.time()
        df = spark.sql(out["sql"])
        if out.get("collect"):
            collected[out["name"]] = [r.asDict(recursive=True) for r in df.collect()]
        else:
            w = df.write.mode("overwrite")
            if out.get("partition_by"):
                w = w.partitionBy(*out["partition_by"])
            w.parquet(os.path.join(staging, out["name"]))
        timings[out["name"] + "_s"] = round(time.time() - t, 3)
    for df in persisted:
        df.unpersist()
    timings["total_s"] = round(time.time() - t0, 3)
    summary = {
        "spark_version": spark.version,
        "master": spark.sparkContext.master,
        "refused": {str(k): v for k, v in refused.items()},
        "lines": {str(k): v["lines"] for k, v in per_file.items()},
        "collected": collected,
        "timings": timings,
    }
    with open(os.path.join(staging, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, default=str)
    spark.stop()


def norm_path(p):
    """`file:///a/b c`, `file:/a/b%20c` and `/a/b c` name the same file; so do
    `hdfs://nn:8020/a/b%20c` and `hdfs://nn:8020/a/b c`."""
    from urllib.parse import unquote, urlsplit

    if p.startswith("file:"):
        p = unquote(p[len("file:"):])
        return "/" + p.lstrip("/")
    if "://" in p:
        u = urlsplit(p)
        return f"{u.scheme.lower()}://{u.netloc}/" + unquote(u.path).lstrip("/")
    return "/" + p.lstrip("/")


def qualify(spark, p):
    """A cluster URI as Spark names the file it reads (`_metadata.file_path`): qualified by its file
    system (`hdfs:///a` -> `hdfs://nn:8020/a`). Local `file://` paths are already."""
    if p.startswith("file:"):
        return p
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(p)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    return fs.makeQualified(path).toUri().toString()


def inspect(job_path):
    """Stage each URI's head, size and SHA-256 (see the module docstring); a URI that cannot be
    opened is staged with its error, for homeseason to report."""
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    staging = job["staging"]
    head_bytes = int(job["head_bytes"])
    spark = SparkSession.builder.appName(job.get("app_name", "homeseason-inspect")).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    out = {}
    for item in job["uris"]:
        k, uri = item["k"], item["uri"]
        try:
            path = jvm.org.apache.hadoop.fs.Path(uri)
            fs = path.getFileSystem(conf)
            status = fs.getFileStatus(path)
            if status.isDirectory():
                out[str(k)] = {"error": "a folder, not a file / 是文件夹而不是文件"}
                continue
            size = status.getLen()
            md = jvm.java.security.MessageDigest.getInstance("SHA-256")
            # The bytes stay in the JVM (py4j passes arrays by value): a digesting stream, its head
            # returned (`readNBytes`), the rest drained in the JVM (`transferTo` a null stream).
            stream = jvm.java.security.DigestInputStream(fs.open(path), md)
            try:
                head = bytes(stream.readNBytes(head_bytes))
                total = len(head) + stream.transferTo(jvm.java.io.OutputStream.nullOutputStream())
            finally:
                stream.close()
            if total != size:
                out[str(k)] = {
                    "error": f"read {total} bytes of a {size}-byte file (changed while read?) / "
                    f"读到 {total} 字节，文件应为 {size} 字节（读取时被修改？）"
                }
                continue
            with open(os.path.join(staging, f"{k}.head"), "wb") as h:
                h.write(head)
            out[str(k)] = {"size": size, "sha256": bytes(md.digest()).hex()}
        except Exception as e:  # noqa: BLE001 (any file system failure is reported for this URI)
            text = str(e)
            first = next((l for l in text.splitlines() if "Exception" in l or "Error" in l), text[:300])
            out[str(k)] = {"error": first.strip().lstrip(": ")[:400]}
    with open(os.path.join(staging, "inspected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    spark.stop()


def describe_read_error(f, e):
    text = str(e)
    first = next((l for l in text.splitlines() if "Exception" in l or "Error" in l), text[:300])
    if f["path"].lower().endswith(".gz"):
        return {"kind": "gzip", "reason": first.strip()[:400]}
    return {"kind": "csv", "reason": first.strip()[:400]}


if __name__ == "__main__":
    try:
        if sys.argv[1] == "--inspect":
            inspect(sys.argv[2])
        else:
            main(sys.argv[1])
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        sys.exit(3)
