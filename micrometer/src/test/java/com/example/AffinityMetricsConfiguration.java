package com.example;

// snippet: metrics-spring
import io.github.affinity4j.micrometer.AffinityMetrics;
import io.github.affinity4j.micrometer.RepairMetricsListener;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration
public class AffinityMetricsConfiguration {

  @Bean
  public RepairMetricsListener repairMetricsListener() {
    return new RepairMetricsListener();
  }

  @Bean
  public AffinityInterceptor affinityInterceptor(RepairMetricsListener replays) {
    return AffinityInterceptor.builder()
        .cookieNames("APIM-Backend-Affinity")
        .listener(replays)
        .build();
  }

  // Spring Boot (spring-boot-starter-actuator) binds every MeterBinder bean to its MeterRegistry.
  @Bean
  public AffinityMetrics affinityMetrics(AffinityInterceptor affinityInterceptor,
      RepairMetricsListener replays) {
    return AffinityMetrics.builder(affinityInterceptor)
        .cookieNames("APIM-Backend-Affinity")
        .repairListener(replays)
        .build();
  }
}
// snippet: end
