package tfspark.sql

import org.apache.spark.sql.{Column, DataFrame}
import org.apache.spark.sql.catalyst.expressions.{CreateNamedStruct, Literal}
import org.apache.spark.sql.tfspark.ExpressionColumns
import org.apache.spark.sql.types.{StructField, StructType}

import tfspark.conf.{NullPolicy, OnError, Setting, TFSparkConf}
import tfspark.errors.TFSparkErrors
import tfspark.model.{ShippedModel, SignatureSpec}
import tfspark.tensor.{BatchLimits, SignatureBinding}

/**
 * The DataFrame API, the Transformer and BatchScore: a `tfpredict` [[Column]] over the user's
 * DataFrame, so the result is still a Spark plan. The optimizer batches it like SQL's
 * (`explain()` shows `BatchEvalTF`), column pruning and pushdown work through it, and the
 * batched rule is installed on the session first if `spark.sql.extensions` did not
 * ([[TFSparkSQL.install]]). Internal: users call `tfspark.TFInference`, the one Scala API.
 */
private[tfspark] object DataFramePredictions {

  /**
   * Appends `outputCol` with `model`'s result to every row of `df`. Inputs are fed from the
   * columns named like the signature's inputs (as Spark matches names), or from the column that
   * `inputCols` names for an input; other columns pass through.
   *
   * Each [[Setting]] not given is the session's `spark.tfpredict.*` setting of the same name
   * (`df`'s session, read when this is called); one given wins. A malformed setting is
   * INVALID_CONFIG naming the key, a bad value given INVALID_ARGUMENT.
   *
   * With [[OnError.ReturnNull]], a row the model cannot score gets a null `outputCol` and its
   * error in `errorCol` (`struct<errorClass, message>`, null for the other rows) instead of failing
   * the job. `rowLabel` columns name rows in errors (none given: `spark.tfpredict.rowLabel`).
   *
   * `outputCol` and `errorCol` must be new names in `df` (as Spark matches names): a clash is
   * INVALID_ARGUMENT unless `replaceColumns`, which replaces the existing columns in place.
   * `binaryOutputs` (string output keys, or `*`) are `binary`; other string outputs are
   * UTF-8-checked `string` (OUTPUT_NOT_UTF8 for a row whose value is not).
   *
   * @throws tfspark.errors.TFSparkException MISSING_INPUT, AMBIGUOUS_INPUT, INPUT_TYPE_MISMATCH,
   *   UNSUPPORTED_SIGNATURE, SIGNATURE_NOT_FOUND, INVALID_ARGUMENT, INVALID_CONFIG here; row
   *   errors from the job
   */
  def predict(
      df: DataFrame,
      model: ShippedModel,
      outputCol: String,
      inputCols: Map[String, String],
      batchSize: Setting[Int],
      signature: String,
      nullPolicy: Setting[NullPolicy],
      unitOutputsAsArrays: Setting[Boolean],
      onError: Setting[OnError],
      errorCol: Option[String],
      rowLabel: Seq[String],
      binaryOutputs: Setting[Seq[String]],
      replaceColumns: Boolean
  ): DataFrame = {
    TFSparkConf.validate(df.sparkSession)
    val policy = onError.orSession(TFSparkConf.onError(df.sparkSession))
    val errorName = errorCol.getOrElse(s"${outputCol}_error")
    val added = Seq("outputCol" -> outputCol) ++ (if (policy.isolates) Seq("errorCol" -> errorName) else Nil)
    if (!replaceColumns) checkOutputColumns(df.schema, added, caseSensitive(df), c => s"a new name, or drop column '$c' first")
    val call = column(df, model, inputCols, batchSize, signature, nullPolicy, unitOutputsAsArrays, policy, rowLabel, binaryOutputs)
    if (!policy.isolates) df.withColumn(outputCol, call)
    else // the same call twice: the plan evaluates it once (equal calls share a BatchEvalTF result)
      df.withColumns(Map(outputCol -> call.getField("result"), errorName -> call.getField("error")))
  }

  /**
   * The one check that the columns an entry point adds (`added`: (what names it, column name))
   * neither name a column of `schema` nor each other, as Spark matches names. `fix` says what to do
   * about a clash with an existing column.
   *
   * @throws tfspark.errors.TFSparkException INVALID_ARGUMENT naming the column
   */
  def checkOutputColumns(schema: StructType, added: Seq[(String, String)], caseSensitive: Boolean, fix: String => String): Unit = {
    def same(a: String, b: String) = if (caseSensitive) a == b else a.equalsIgnoreCase(b)
    added.foreach { case (what, name) =>
      schema.fieldNames.find(same(_, name)).foreach { clash =>
        throw TFSparkErrors.invalidArgument(what, s"'$name', which names the existing column '$clash'", fix(clash))
      }
    }
    added.combinations(2).foreach {
      case Seq((w1, n1), (w2, n2)) if same(n1, n2) =>
        throw TFSparkErrors.invalidArgument(s"$w1 and $w2", s"'$n1' and '$n2', the same column", "two different names")
      case _ =>
    }
  }

  private def caseSensitive(df: DataFrame): Boolean = df.sparkSession.conf.get("spark.sql.caseSensitive", "false").toBoolean

  /**
   * The `tfpredict` Column of [[predict]], to use in any projection of `df`, with the same
   * settings; with [[OnError.ReturnNull]] it is `struct<result, error>` ([[TFPredict]]).
   */
  def column(
      df: DataFrame,
      model: ShippedModel,
      inputCols: Map[String, String],
      batchSize: Setting[Int],
      signature: String,
      nullPolicy: Setting[NullPolicy],
      unitOutputsAsArrays: Setting[Boolean],
      onError: Setting[OnError],
      rowLabel: Seq[String],
      binaryOutputs: Setting[Seq[String]]
  ): Column = {
    val spark = df.sparkSession
    TFSparkSQL.install(spark)
    TFSparkConf.validate(spark)
    val labels = if (rowLabel.nonEmpty) rowLabel else TFSparkConf.rowLabel(spark)
    checkRowLabel(df, labels, fromConf = rowLabel.isEmpty)
    val (binding, _, ordinals) = bindColumns(df, model, inputCols, signature, unitOutputsAsArrays, binaryOutputs)
    val rows = batchSize.orSession(TFSparkConf.batchSize(spark))
    if (batchSize.isGiven) BatchLimits.check(rows, Some(binding), "batchSize", isConfig = false)
    else BatchLimits.check(rows, Some(binding), TFSparkConf.BatchSize, isConfig = true)
    val attributes = df.queryExecution.analyzed.output
    val argument = CreateNamedStruct(binding.argumentType.asInstanceOf[StructType].fieldNames.toSeq.zip(ordinals).flatMap {
      case (name, ordinal) => Seq(Literal(name), attributes(ordinal))
    })
    val policy = nullPolicy.orSession(TFSparkConf.nullPolicy(spark))
    ExpressionColumns.column(TFPredict(argument, model, binding, policy, Some(rows), onError.orSession(TFSparkConf.onError(spark)), labels))
  }

  /**
   * The columns that name rows in errors must be columns of `df`.
   *
   * @throws tfspark.errors.TFSparkException INVALID_CONFIG (`spark.tfpredict.rowLabel`) or
   *   INVALID_ARGUMENT (the call's own `rowLabel`) naming the missing column
   */
  private def checkRowLabel(df: DataFrame, rowLabel: Seq[String], fromConf: Boolean): Unit =
    rowLabel.filterNot(c => df.columns.exists(_.equalsIgnoreCase(c))).foreach { missing =>
      val expected = s"columns of the scored DataFrame: ${df.columns.mkString(", ")}"
      throw (if (fromConf)
               TFSparkErrors.invalidConfig(TFSparkConf.RowLabel, s"'${rowLabel.mkString(",")}' ('$missing' is not a column)", expected)
             else TFSparkErrors.invalidArgument("rowLabel column", s"'$missing'", expected))
    }

  /**
   * How `model` is fed from `df`'s columns: the binding, the argument struct type, and the
   * ordinals of its fields in `df`.
   *
   * `unitOutputsAsArrays` and `binaryOutputs` not given are the settings of `df`'s session.
   *
   * @throws tfspark.errors.TFSparkException MISSING_INPUT, AMBIGUOUS_INPUT, INPUT_TYPE_MISMATCH,
   *   UNSUPPORTED_SIGNATURE, SIGNATURE_NOT_FOUND, INVALID_ARGUMENT (also for a binaryOutputs key
   *   given that names no string output), INVALID_CONFIG (such a key of `spark.tfpredict.binaryOutputs`)
   */
  def bindColumns(
      df: DataFrame,
      model: ShippedModel,
      inputCols: Map[String, String],
      signature: String,
      unitOutputsAsArrays: Setting[Boolean],
      binaryOutputs: Setting[Seq[String]]
  ): (SignatureBinding, StructType, Array[Int]) = {
    val spark = df.sparkSession
    val spec = SignatureSpec.find(model.name, model.signatures, signature)
    val binary = binaryOutputs.orSession(TFSparkConf.binaryOutputsOf(model.name, spark))
    val (unknown, expected) = SignatureBinding.unknownBinaryOutputs(spec, binary)
    if (unknown.nonEmpty) {
      throw (if (binaryOutputs.isGiven)
               TFSparkErrors.invalidArgument(s"binaryOutputs of model ${model.name}", unknown.mkString(", "), expected)
             else TFSparkErrors.invalidConfig(TFSparkConf.BinaryOutputs, binary.mkString(","), s"for model ${model.name}: $expected"))
    }
    val caseSensitive = this.caseSensitive(df)
    val schema = df.schema
    def column(name: String): Int = {
      val i = schema.fieldNames.indexWhere(f => if (caseSensitive) f == name else f.equalsIgnoreCase(name))
      if (i < 0) throw TFSparkErrors.invalidArgument("input column", s"'$name'", s"one of ${schema.fieldNames.mkString(", ")}")
      i
    }
    inputCols.keys.filterNot(k => spec.inputs.exists(_.key == k)).foreach { k =>
      throw TFSparkErrors.missingInput(model.name, signature, k, spec.inputs.map(_.key))
    }
    // The argument: a struct of the mapped columns named by input key, or of all columns by name.
    val fields: Seq[(String, Int)] =
      if (inputCols.nonEmpty) inputCols.toSeq.map { case (input, col) => input -> column(col) }
      else schema.fieldNames.toSeq.zipWithIndex
    // Bound once over every candidate column (for the errors), then projected to the columns that
    // feed an input, so that the plan reads no column the model does not take.
    val all = SignatureBinding.bind(
      model.name,
      spec,
      StructType(fields.map { case (name, i) => StructField(name, schema(i).dataType) }),
      caseSensitive,
      unitDimAsArray = unitOutputsAsArrays.orSession(TFSparkConf.unitOutputsAsArrays(spark)),
      byName = true,
      binaryOutputs = binary,
      probe = Some(model)
    )
    val (binding, used) = all.usedFieldsOnly.getOrElse(throw new IllegalStateException("a binding by name reads struct fields"))
    (binding, binding.argumentType.asInstanceOf[StructType], used.map(fields(_)._2).toArray)
  }
}
