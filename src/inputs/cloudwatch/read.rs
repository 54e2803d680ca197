//! One read of one log group: the window `[from, to]` (milliseconds, both ends included, as
//! `FilterLogEvents` takes them) in, the group's events published under one ack group out, and how that
//! ended: delivered (the checkpoint may move past `to`) or not (it stays, and the window is read again).
//!
//! Every page is followed to the end, an empty page with a next token included. Events whose id was
//! delivered by an earlier read of the window (`seen`) are not sent again; the ids read are returned so
//! that the caller adds them to `seen` once they are delivered. Each call waits its turn in the region's
//! [`Pace`]; a throttled call waits again and is retried, any other failure ends the read undelivered.
//! What must stay true: the read reports `Delivered` only when the ack group settled delivered, that is
//! when every event it published was delivered or dead-lettered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use serde_json::json;

use super::pace::Pace;
use super::GroupRef;
use crate::ack::{AckGroup, Outcome};
use crate::config::InputSettings;
use crate::event::enrich::ObjectContext;
use crate::event::message::message_events;
use crate::event::processors;
use crate::fields::Timestamp;
use crate::formats::{FormatSpec, LineParser};
use crate::ops::metrics::Metrics;
use crate::queue::QueueSender;
use crate::shutdown::Shutdown;

/// What a read needs, shared by the reads of one input.
#[derive(Debug)]
pub struct Reader {
    /// The input.
    pub input: InputSettings,
    /// The format of the messages.
    pub spec: FormatSpec,
    /// Only these streams (empty: all).
    pub streams: Vec<String>,
    /// Only streams starting with this.
    pub stream_prefix: Option<String>,
    /// The longest one call may take.
    pub api_timeout: Duration,
    /// The publish queue.
    pub queue: QueueSender,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The run's state.
    pub shutdown: Shutdown,
}

/// How a read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// Every event read was delivered (or was already): the checkpoint may move past the window.
    Delivered,
    /// Not delivered: the reason. The checkpoint stays.
    NotDelivered(String),
    /// The group no longer exists.
    Gone,
}

/// What a read read.
#[derive(Debug)]
pub struct Read {
    /// How it ended.
    pub end: ReadEnd,
    /// The ids of the events read and their times: add them to `seen` if delivered.
    pub ids: Vec<(String, u64)>,
    /// Events published.
    pub published: u64,
}

/// Events published at a time (a chunk of the publish queue).
const CHUNK: usize = 500;

impl Reader {
    /// Reads `group` in `[from, to]` with `client`, pacing calls with `pace`.
    pub async fn read(
        &self,
        logs: &aws_sdk_cloudwatchlogs::Client,
        (region, pace): (&str, &Pace),
        group: &GroupRef,
        (from, to): (u64, u64),
        seen: &HashMap<String, u64>,
    ) -> Read {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ack = AckGroup::new(format!("log group {}", group.key()), move |o| {
            let _ = tx.send(o);
        });
        let mut read = Read {
            end: ReadEnd::Delivered,
            ids: Vec::new(),
            published: 0,
        };
        if let Err(end) = self
            .pages(
                logs,
                (region, pace),
                group,
                (from, to),
                seen,
                &ack,
                &mut read,
            )
            .await
        {
            ack.fail(match &end {
                ReadEnd::NotDelivered(why) => why.clone(),
                _ => "the log group is gone".to_string(),
            });
            read.end = end;
        }
        drop(ack);
        // Every chunk published holds the group: it settles when the output has them all.
        let outcome = rx
            .await
            .unwrap_or_else(|_| Outcome::Failed("the ack group ended unsettled".into()));
        if read.end == ReadEnd::Delivered {
            read.end = match outcome {
                Outcome::Delivered => ReadEnd::Delivered,
                Outcome::Kept(why) | Outcome::Failed(why) => ReadEnd::NotDelivered(why),
            };
        }
        read
    }

    #[allow(clippy::too_many_arguments)]
    async fn pages(
        &self,
        logs: &aws_sdk_cloudwatchlogs::Client,
        (region, pace): (&str, &Pace),
        group: &GroupRef,
        (from, to): (u64, u64),
        seen: &HashMap<String, u64>,
        ack: &AckGroup,
        read: &mut Read,
    ) -> Result<(), ReadEnd> {
        let mut parser = LineParser::new(&self.spec);
        let mut contexts: HashMap<String, ObjectContext> = HashMap::new();
        let mut token: Option<String> = None;
        let mut events = Vec::new();
        loop {
            if self.shutdown.is_stopping() {
                return Err(ReadEnd::NotDelivered("the input is stopping".into()));
            }
            pace.turn().await;
            let mut call = logs
                .filter_log_events()
                .log_group_name(&group.name)
                .start_time(from as i64)
                .end_time(to as i64)
                .set_next_token(token.clone());
            if !self.streams.is_empty() {
                call = call.set_log_stream_names(Some(self.streams.clone()));
            } else if let Some(p) = &self.stream_prefix {
                call = call.log_stream_name_prefix(p);
            }
            Metrics::add(&self.metrics.cloudwatch_api_calls, 1);
            let page = match tokio::time::timeout(self.api_timeout, call.send()).await {
                Err(_) => {
                    Metrics::add(&self.metrics.cloudwatch_api_errors, 1);
                    return Err(ReadEnd::NotDelivered(format!(
                        "log group {}: FilterLogEvents did not answer within {:?}",
                        group.key(),
                        self.api_timeout
                    )));
                }
                Ok(Ok(p)) => {
                    pace.success();
                    self.metrics.live.throttled(region, false);
                    self.metrics
                        .live
                        .aws_access(&format!("log group {}", group.key()), None);
                    p
                }
                Ok(Err(e)) => match e.code() {
                    Some("ThrottlingException") | Some("LimitExceededException") => {
                        Metrics::add(&self.metrics.cloudwatch_throttles, 1);
                        pace.throttled();
                        self.metrics.live.throttled(region, true);
                        continue;
                    }
                    Some("ResourceNotFoundException") => return Err(ReadEnd::Gone),
                    code => {
                        Metrics::add(&self.metrics.cloudwatch_api_errors, 1);
                        let why = crate::error::chain(&e);
                        if let crate::aws::Failure::Permanent(p) =
                            crate::aws::classify_code(code, || why.clone())
                        {
                            self.metrics
                                .live
                                .aws_access(&format!("log group {}", group.key()), Some(&p));
                        }
                        return Err(ReadEnd::NotDelivered(format!(
                            "log group {}: FilterLogEvents: {why}",
                            group.key()
                        )));
                    }
                },
            };
            for e in page.events() {
                let (Some(id), Some(ts)) = (e.event_id(), e.timestamp()) else {
                    continue;
                };
                Metrics::add(&self.metrics.cloudwatch_events_read, 1);
                let ts = ts.max(0) as u64;
                if seen.contains_key(id) {
                    Metrics::add(&self.metrics.cloudwatch_events_repeated, 1);
                    continue;
                }
                read.ids.push((id.to_string(), ts));
                let stream = e.log_stream_name().unwrap_or("");
                let ctx = contexts.entry(stream.to_string()).or_insert_with(|| {
                    ObjectContext::new(
                        &self.input.enrich,
                        self.spec.format(),
                        &format!("{}/{stream}", group.name),
                        &group.name,
                        None,
                    )
                });
                let ingestion = e
                    .ingestion_time()
                    .map(|t| Timestamp::from_millis(t).to_rfc3339());
                let source = [
                    (
                        "aws",
                        json!({"cloudwatch": {
                            "log_group": group.name,
                            "log_stream": stream,
                            "ingestion_time": ingestion,
                        }}),
                    ),
                    ("event", json!({ "id": id })),
                ];
                Metrics::add(&self.metrics.lines, 1);
                let m = message_events(
                    ctx,
                    &mut parser,
                    e.message().unwrap_or(""),
                    Timestamp::from_millis(ts as i64),
                    &source,
                    id,
                    self.input.max_line_bytes,
                );
                Metrics::add(&self.metrics.parse_failures, m.failures);
                events.extend(m.events);
                if events.len() >= CHUNK {
                    self.publish(&mut events, ack, read).await?;
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        self.publish(&mut events, ack, read).await
    }

    async fn publish(
        &self,
        events: &mut Vec<crate::event::Event>,
        ack: &AckGroup,
        read: &mut Read,
    ) -> Result<(), ReadEnd> {
        if events.is_empty() {
            return Ok(());
        }
        let mut chunk = std::mem::take(events);
        let done = processors::finish(
            self.spec.format(),
            self.input.field_names,
            &self.input.processors,
            &mut chunk,
        )
        .map_err(ReadEnd::NotDelivered)?;
        Metrics::add(&self.metrics.events_filtered, done.filtered);
        Metrics::add(&self.metrics.json_values_capped, done.capped);
        let n = chunk.len() as u64;
        if n == 0 {
            return Ok(());
        }
        self.queue
            .send(chunk, ack)
            .await
            .map_err(|_| ReadEnd::NotDelivered("the publish queue is closed".into()))?;
        Metrics::add(&self.metrics.events_published, n);
        read.published += n;
        Ok(())
    }
}
