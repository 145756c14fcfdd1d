package tfspark.tags;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.scalatest.TagAnnotation;

/**
 * Long runs through one long-lived executor: versions rolling through it, its memory measured.
 *
 * <p>A slow tier: {@code bin/test} runs it, {@code bin/test --fast} leaves it out (docs/testing.md).
 * Put it on the suite class; subclasses inherit it.
 */
@TagAnnotation
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface SoakTest {}
