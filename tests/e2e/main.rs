//! End-to-end tests, one binary: the `s3logsbeat` binary as a user runs it, against moto's S3, SQS and
//! CloudFormation, the Elasticsearch 8 double (`tests/doubles/es_double.py`), an independent lumberjack
//! server (ferro-lumberjack), promtool and Prometheus. A test that needs one of them fails when it cannot
//! start; it is never skipped. `supervision` needs the `fault-hooks` feature (`make test` builds with it).

#[path = "../common/mod.rs"]
mod common;

mod bench_sink;
mod cli;
mod cloudwatch;
mod commands;
mod daemon;
mod faults;
mod logging;
mod logstash;
mod migration;
mod monitoring;
mod opensearch;
mod packaging;
mod routing;
mod s3import;
mod s3poll;
mod security;
mod startup;
mod state;
#[cfg(feature = "fault-hooks")]
mod supervision;
