//! Metric data points → [`MetricPointRecord`]s, durations in seconds.

use mcplatform_core::telemetry::{MetricKind, MetricPointRecord};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data, number_data_point};
use serde_json::{Value, json};

use crate::Decoded;
use crate::attributes::{attributes, canonicalize, column_text, mcp_fields, nanos, resource};

pub(crate) fn convert(request: ExportMetricsServiceRequest) -> Decoded {
    let mut decoded = Decoded::default();
    for resource_metrics in request.resource_metrics {
        for scope_metrics in resource_metrics.scope_metrics {
            let (resource, service_name) =
                resource(resource_metrics.resource.as_ref(), scope_metrics.scope.as_ref());
            let context = Context { resource: &resource, service_name: &service_name };
            for metric in scope_metrics.metrics {
                points(metric, &context, &mut decoded);
            }
        }
    }
    decoded
}

struct Context<'a> {
    resource: &'a str,
    service_name: &'a Option<String>,
}

/// A duration unit other than seconds, and how many of it make a second. Some SDKs (Shinzo)
/// report `mcp.server.operation.duration` in `ms` under the conventions' name.
fn per_second(unit: &str) -> Option<f64> {
    match unit {
        "ms" => Some(1e3),
        "us" | "µs" => Some(1e6),
        "ns" => Some(1e9),
        _ => None,
    }
}

fn points(metric: Metric, context: &Context<'_>, decoded: &mut Decoded) {
    let Some(data) = metric.data else {
        decoded.reject(format!("metric {:?} has no data", metric.name));
        return;
    };
    // Exponential buckets cannot be rescaled by a factor that is no power of two: they keep
    // their unit.
    let scale = match &data {
        Data::ExponentialHistogram(_) => None,
        _ => per_second(&metric.unit),
    };
    let unit = if scale.is_some() { "s".to_owned() } else { column_text(metric.unit.clone()) };
    let name = column_text(metric.name.clone());
    let seconds = |value: f64| scale.map_or(value, |per| value / per);
    let point = |kind, attrs: Vec<KeyValue>, start: u64, time: u64| {
        let mut attrs = attributes(attrs);
        canonicalize(&mut attrs);
        let mcp = mcp_fields(&attrs, None, false);
        MetricPointRecord {
            name: name.clone(),
            unit: unit.clone(),
            kind,
            service_name: context.service_name.clone(),
            start_ns: (start != 0).then(|| nanos(start)),
            time_ns: nanos(time),
            value: None,
            count: None,
            sum: None,
            min: None,
            max: None,
            details: None,
            method: mcp.method,
            target: mcp.target,
            error_type: mcp.error_type,
            attributes: Value::Object(attrs).to_string(),
            resource: context.resource.to_owned(),
        }
    };
    let count = |n: u64| Some(i64::try_from(n).unwrap_or(i64::MAX));
    let points = &mut decoded.batch.metric_points;
    match data {
        Data::Gauge(gauge) => {
            for p in gauge.data_points {
                let value = number(p.value).map(seconds);
                points.push(MetricPointRecord {
                    value,
                    ..point(
                        MetricKind::Gauge,
                        p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    )
                });
            }
        }
        Data::Sum(sum) => {
            let details = json!({"temporality": temporality(sum.aggregation_temporality), "monotonic": sum.is_monotonic});
            for p in sum.data_points {
                let value = number(p.value).map(seconds);
                points.push(MetricPointRecord {
                    value,
                    details: Some(details.to_string()),
                    ..point(MetricKind::Sum, p.attributes, p.start_time_unix_nano, p.time_unix_nano)
                });
            }
        }
        Data::Histogram(histogram) => {
            for p in histogram.data_points {
                let bounds: Vec<f64> = p.explicit_bounds.iter().map(|b| seconds(*b)).collect();
                let details = json!({
                    "temporality": temporality(histogram.aggregation_temporality),
                    "bounds": bounds,
                    "counts": p.bucket_counts,
                });
                points.push(MetricPointRecord {
                    count: count(p.count),
                    sum: p.sum.map(seconds),
                    min: p.min.map(seconds),
                    max: p.max.map(seconds),
                    details: Some(details.to_string()),
                    ..point(
                        MetricKind::Histogram,
                        p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    )
                });
            }
        }
        Data::ExponentialHistogram(histogram) => {
            for p in histogram.data_points {
                let buckets = |b: Option<Buckets>| {
                    b.map(|b| json!({"offset": b.offset, "counts": b.bucket_counts}))
                };
                let details = json!({
                    "temporality": temporality(histogram.aggregation_temporality),
                    "scale": p.scale,
                    "zero_count": p.zero_count,
                    "zero_threshold": p.zero_threshold,
                    "positive": buckets(p.positive),
                    "negative": buckets(p.negative),
                });
                points.push(MetricPointRecord {
                    count: count(p.count),
                    sum: p.sum,
                    min: p.min,
                    max: p.max,
                    details: Some(details.to_string()),
                    ..point(
                        MetricKind::ExponentialHistogram,
                        p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    )
                });
            }
        }
        Data::Summary(summary) => {
            for p in summary.data_points {
                let quantiles: Vec<Value> = p
                    .quantile_values
                    .iter()
                    .map(|q| json!({"quantile": q.quantile, "value": seconds(q.value)}))
                    .collect();
                points.push(MetricPointRecord {
                    count: count(p.count),
                    sum: Some(seconds(p.sum)),
                    details: Some(json!({"quantiles": quantiles}).to_string()),
                    ..point(
                        MetricKind::Summary,
                        p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    )
                });
            }
        }
    }
}

/// OTLP `AggregationTemporality` by name, as people read it.
fn temporality(number: i32) -> &'static str {
    match number {
        1 => "delta",
        2 => "cumulative",
        _ => "unspecified",
    }
}

fn number(value: Option<number_data_point::Value>) -> Option<f64> {
    match value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Encoding, Signal, decode};

    #[test]
    fn millisecond_histograms_become_seconds_and_empty_metrics_are_rejected() {
        let body = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "mcp.server.operation.duration", "unit": "ms", "histogram": {
                "aggregationTemporality": 2,
                "dataPoints": [{
                    "timeUnixNano": "2000", "startTimeUnixNano": "1000",
                    "count": "3", "sum": 1500.0, "min": 100.0, "max": 1000.0,
                    "bucketCounts": ["1", "2"], "explicitBounds": [500.0],
                    "attributes": [
                        {"key": "mcp.method.name", "value": {"stringValue": "tools/call"}},
                        {"key": "mcp.tool.name", "value": {"stringValue": "search"}}
                    ]
                }]
            }},
            {"name": "calls", "sum": {"isMonotonic": true, "dataPoints": [{"asInt": "4", "timeUnixNano": "1"}]}},
            {"name": "nothing"}
        ]}]}]});
        let decoded =
            decode(Signal::Metrics, Encoding::Json, &serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(decoded.rejected, 1);
        let [histogram, sum] = decoded.batch.metric_points.as_slice() else {
            panic!("{:?}", decoded.batch.metric_points);
        };
        assert_eq!(histogram.unit, "s");
        assert_eq!(
            (histogram.count, histogram.sum, histogram.max),
            (Some(3), Some(1.5), Some(1.0))
        );
        assert_eq!(histogram.target.as_deref(), Some("search"));
        let details: Value = serde_json::from_str(histogram.details.as_ref().unwrap()).unwrap();
        assert_eq!(details["bounds"], json!([0.5]));
        assert_eq!(details["counts"], json!([1, 2]));
        assert_eq!((sum.kind, sum.value, sum.start_ns), (MetricKind::Sum, Some(4.0), None));
    }
}
