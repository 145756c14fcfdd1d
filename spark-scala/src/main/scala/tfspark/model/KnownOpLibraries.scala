package tfspark.model

/**
 * Which PyPI package ships the op library of an op that TensorFlow itself does not register, for
 * MODEL_LOAD_FAILED's advice. The one place this table is kept.
 *
 * Source: the op names each library registers when loaded with TF Java's `TensorFlow.loadLibrary`
 * (its returned `OpList`), read from the wheels tensorflow-text 2.18.1 and
 * tensorflow-decision-forests 1.11.0 for Linux x86-64, CPython 3.11 (docs/op-libraries.md). The
 * decision-forest ops are matched by their `SimpleML` prefix; ydf's TensorFlow export uses the same ops.
 */
object KnownOpLibraries {

  /** One op library: the package, and the library's path inside its wheel. */
  final case class Provider(pkg: String, file: String) {
    override def toString: String = s"$pkg (the op library $file inside its wheel)"
  }

  private def text(file: String) = Provider("tensorflow-text 2.18.x", s"tensorflow_text/python/ops/$file")

  private val DecisionForests =
    Provider(
      "tensorflow-decision-forests 1.11.0 (also what ydf's TensorFlow export needs)",
      "tensorflow_decision_forests/tensorflow/ops/inference/inference.so"
    )

  private val textOps: Map[String, Provider] = Seq(
    "_boise_offset_converter.so" -> Seq("TFText>OffsetsToBoiseTags", "TFText>BoiseTagsToOffsets"),
    "_byte_splitter.so" -> Seq("TFText>ByteSplitWithOffsets", "TFText>ByteSplitByOffsets"),
    "_constrained_sequence_op.so" -> Seq("ConstrainedSequence"),
    "_fast_bert_normalizer.so" -> Seq("FastBertNormalize"),
    "_fast_sentencepiece_tokenizer.so" -> Seq("TFText>FastSentencepieceTokenize", "TFText>FastSentencepieceDetokenize"),
    "_fast_wordpiece_tokenizer.so" -> Seq("FastWordpieceTokenizeWithOffsets", "TFText>FastWordpieceDetokenize"),
    "_mst_ops.so" -> Seq("MaxSpanningTree"),
    "_ngrams_op.so" -> Seq("TFText>NgramsStringJoin"),
    "_normalize_ops.so" -> Seq("CaseFoldUTF8", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap", "FindSourceOffsets"),
    "_phrase_tokenizer.so" -> Seq("PhraseTokenize", "TFText>PhraseDetokenize"),
    "_regex_split_ops.so" -> Seq("RegexSplitWithOffsets"),
    "_sentence_breaking_ops.so" -> Seq("SentenceFragments"),
    "_sentencepiece_tokenizer.so" -> Seq(
      "SentencepieceOp",
      "SentencepieceTokenizeOp",
      "SentencepieceTokenizeWithOffsetsOp",
      "SentencepieceDetokenizeOp",
      "SentencepieceVocabSizeOp",
      "SentencepieceIdToStringOp",
      "SentencepieceStringToIdOp"
    ),
    "_split_merge_from_logits_tokenizer.so" -> Seq("TokenizerFromLogits"),
    "_split_merge_tokenizer.so" -> Seq("SplitMergeTokenizeWithOffsets"),
    "_state_based_sentence_breaker_op.so" -> Seq("SentenceFragmentsV2"),
    "_trimmer_ops.so" -> Seq("TFText>RoundRobinGenerateMasks", "TFText>RoundRobinTrim"),
    "_unicode_script_tokenizer.so" -> Seq("UnicodeScriptTokenizeWithOffsets"),
    "_utf8_binarize_op.so" -> Seq("TFText>Utf8Binarize"),
    "_whitespace_tokenizer.so" -> Seq("WhitespaceTokenizeWithOffsets"),
    "_whitespace_tokenizer_v2.so" -> Seq("TFText>WhitespaceTokenizeWithOffsetsV2"),
    "_wordpiece_tokenizer.so" -> Seq("WordpieceTokenizeWithOffsets")
  ).flatMap { case (file, ops) => ops.map(_ -> text(file)) }.toMap

  /** The package (and library) known to provide `op`, if any. */
  def providerOf(op: String): Option[Provider] =
    textOps.get(op).orElse(if (op.startsWith("SimpleML")) Some(DecisionForests) else None)
}
