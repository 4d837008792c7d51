package org.springframework.context.annotation;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A stand-in for Spring's {@code @Bean}, in test sources only, so that the Spring Boot example of
 * {@code docs/metrics.md} ({@code com.example.AffinityMetricsConfiguration}) compiles as the page
 * shows it, imports included, without Spring on the class path. Never shipped.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Bean {}
