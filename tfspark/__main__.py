"""``python -m tfspark {jars,spark-args}``: tfspark's jars for the Spark commands that take ``--jars``.

    python -m tfspark jars          # the two jars, comma-separated (fetches the native jar once)
    python -m tfspark spark-args    # --jars ... --conf spark.sql.extensions=...: for spark-sql,
                                    # spark-submit, the Thrift and Spark Connect servers

Exit status 0, or 1 with one ``[ERROR_CLASS] ...`` line when a jar cannot be found or fetched.
"""

from __future__ import annotations

import argparse
import sys

from tfspark import jars
from tfspark.errors import TFSparkClientError
from tfspark.session import EXTENSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfspark", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("jars", help="print tfspark's jar and TF Java's native jar, comma-separated")
    sub.add_parser(
        "spark-args", help="print --jars and --conf spark.sql.extensions for spark-sql, spark-submit, servers"
    )
    args = parser.parse_args(argv)
    try:
        found = ",".join(str(j) for j in jars.jars())
    except TFSparkClientError as e:
        print(e, file=sys.stderr)
        return 1
    print(found if args.command == "jars" else f"--jars {found} --conf spark.sql.extensions={EXTENSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
