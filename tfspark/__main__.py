"""``python -m tfspark {jars,spark-args,examples}``: tfspark's jars for the Spark commands, and its example models.

    python -m tfspark jars          # the two jars, comma-separated (fetches the native jar once)
    python -m tfspark spark-args    # --jars ... --conf spark.sql.extensions=...: for spark-sql,
                                    # spark-submit, the Thrift and Spark Connect servers
    python -m tfspark examples --out models   # the README's example models (imdb, linear,
                                    # titanic) as a model repository, without a clone or TensorFlow

Exit status 0, 1 with one ``[ERROR_CLASS] ...`` line when a jar cannot be found or fetched or the
examples cannot be written, or 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys

from tfspark import examples, jars
from tfspark.errors import TFSparkClientError
from tfspark.session import EXTENSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfspark", description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("jars", help="print tfspark's jar and TF Java's native jar, comma-separated")
    sub.add_parser(
        "spark-args", help="print --jars and --conf spark.sql.extensions for spark-sql, spark-submit, servers"
    )
    ex = sub.add_parser(
        "examples",
        help="write the example models (imdb, linear, titanic) as a model repository: OUT/<name>/1/",
    )
    ex.add_argument("--out", required=True, metavar="DIR", help="the repository folder (created if missing)")
    ex.add_argument("--force", action="store_true", help="replace example models already in DIR")
    args = parser.parse_args(argv)
    try:
        if args.command == "examples":
            written = examples.write_examples(args.out, overwrite=args.force)
            print(f"wrote {', '.join(str(p) for p in written)}")
            print(f"use it with: configure_spark_with_tfspark(builder, repository={str(args.out)!r})")
            return 0
        found = ",".join(str(j) for j in jars.jars())
    except TFSparkClientError as e:
        print(e, file=sys.stderr)
        return 1
    print(found if args.command == "jars" else f"--jars {found} --conf spark.sql.extensions={EXTENSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
