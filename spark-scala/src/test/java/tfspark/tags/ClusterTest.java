package tfspark.tags;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.scalatest.TagAnnotation;

/**
 * Suites on {@code local-cluster}: executor JVMs started from SPARK_HOME, which see models and op
 * libraries only through what tfspark ships.
 *
 * <p>A slow tier: {@code bin/test} runs it, {@code bin/test --fast} leaves it out (docs/testing.md).
 * Put it on the suite class; subclasses inherit it.
 */
@TagAnnotation
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface ClusterTest {}
