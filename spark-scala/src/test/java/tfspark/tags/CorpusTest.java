package tfspark.tags;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.scalatest.TagAnnotation;

/**
 * Suites over the generated foreign-model corpus ({@code target/foreign-models}, made by
 * {@code tests/foreign_models/make_foreign_models.py}): every corpus model through every entry point.
 *
 * <p>A slow tier: {@code bin/test} runs it, {@code bin/test --fast} leaves it out (docs/testing.md).
 * Put it on the suite class; subclasses inherit it.
 */
@TagAnnotation
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface CorpusTest {}
