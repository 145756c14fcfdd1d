package tfspark.tags;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.scalatest.TagAnnotation;

/**
 * Every step of a write failed or killed, one run each: the atomic output commit's fault matrix on the
 * local file system (the HDFS one is {@link HdfsTest}).
 *
 * <p>A slow tier: {@code bin/test} runs it, {@code bin/test --fast} leaves it out (docs/testing.md).
 * Put it on the suite class; subclasses inherit it.
 */
@TagAnnotation
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface FaultInjectionTest {}
