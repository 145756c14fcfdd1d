package tfspark.tags;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.scalatest.TagAnnotation;

/**
 * The BatchScore job run once per test model (golden vectors through Parquet in and out). The fast
 * tier keeps the job's own suite (BatchScoreSuite) and every other entry point per model.
 *
 * <p>A slow tier: {@code bin/test} runs it, {@code bin/test --fast} leaves it out (docs/testing.md).
 * Tests made in a loop take it as {@code Tag("tfspark.tags.JobPerModelTest")}.
 */
@TagAnnotation
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface JobPerModelTest {}
