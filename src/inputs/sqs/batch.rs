//! SQS's `*Batch` calls, in one place: items in, one result per item out. SQS takes at most ten entries
//! per call and answers per entry; this splits the items into tens, numbers the entries by their place in
//! the call, retries a call that failed as a whole a few times (after a jittered [`Backoff`]: the deleter
//! of every shipper that lost SQS together must not call again in step), and maps every answer back to
//! its item. The waits are short and not cut short by a shutdown: the deleter's last deletes go out
//! during one.
//!
//! Three calls use it: DeleteMessageBatch and ChangeMessageVisibilityBatch (the SQS input only: nothing
//! else deletes or changes visibility) and SendMessageBatch (`s3import --to-queue`).

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry,
};

use crate::backoff::Backoff;
use crate::error::chain;

/// SQS's limit of entries per batch call.
pub const MAX_ENTRIES: usize = 10;

/// Calls made for a whole batch before its items are reported failed.
const ATTEMPTS: u32 = 3;

/// The wait before the second call of a batch.
const RETRY_INIT: Duration = Duration::from_millis(200);
/// The wait before the third, the last: a call that keeps failing holds the deleter only briefly.
const RETRY_MAX: Duration = Duration::from_millis(400);

/// The answer to one call: the ids that succeeded and those that failed, with SQS's code and message.
#[derive(Debug, Default)]
pub struct Answer {
    /// Entry ids that succeeded.
    pub ok: Vec<String>,
    /// Entry ids that failed: (id, "Code: message").
    pub failed: Vec<(String, String)>,
}

impl Answer {
    fn new<'a>(ok: impl Iterator<Item = &'a str>, failed: &[BatchResultErrorEntry]) -> Answer {
        Answer {
            ok: ok.map(str::to_string).collect(),
            failed: failed
                .iter()
                .map(|f| {
                    let what = match f.message() {
                        Some(m) => format!("{}: {m}", f.code()),
                        None => f.code().to_string(),
                    };
                    (f.id().to_string(), what)
                })
                .collect(),
        }
    }
}

/// Makes the calls for `items`, ten at a time; `call` gets a slice and the entry ids to use (`"0"`…).
/// Each item's result comes back in its place: `Err` says why (the entry's error, or the call's).
pub async fn in_tens<T, F, Fut>(items: &[T], mut call: F) -> Vec<Result<(), String>>
where
    F: FnMut(&[T]) -> Fut,
    Fut: Future<Output = Result<Answer, String>>,
{
    let mut results = Vec::with_capacity(items.len());
    let mut backoff = Backoff::new(RETRY_INIT, RETRY_MAX);
    for part in items.chunks(MAX_ENTRIES) {
        // Each call of ten starts from the first wait: one that failed says nothing of the next.
        backoff.reset();
        let mut attempt = 1;
        let answer = loop {
            match call(part).await {
                Ok(a) => break Ok(a),
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "SQS batch call failed; retrying");
                    tokio::time::sleep(backoff.next()).await;
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        match answer {
            Err(e) => results.extend(part.iter().map(|_| Err(e.clone()))),
            Ok(a) => {
                for i in 0..part.len() {
                    let id = i.to_string();
                    results.push(if a.ok.contains(&id) {
                        Ok(())
                    } else if let Some((_, why)) = a.failed.iter().find(|(f, _)| *f == id) {
                        Err(why.clone())
                    } else {
                        Err("SQS did not answer for this entry".to_string())
                    });
                }
            }
        }
    }
    results
}

/// Deletes messages by receipt handle.
pub async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    receipts: &[&str],
) -> Vec<Result<(), String>> {
    in_tens(receipts, |part| {
        let mut req = sqs.delete_message_batch().queue_url(queue);
        for (i, r) in part.iter().enumerate() {
            req = req.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*r)
                    .build()
                    .expect("id and receipt handle are set"),
            );
        }
        async move {
            let out = req.send().await.map_err(|e| chain(&e))?;
            Ok(Answer::new(
                out.successful().iter().map(|s| s.id()),
                out.failed(),
            ))
        }
    })
    .await
}

/// Sets the visibility timeout (seconds) of messages by receipt handle.
pub async fn change_visibility(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    entries: &[(&str, i32)],
) -> Vec<Result<(), String>> {
    in_tens(entries, |part| {
        let mut req = sqs.change_message_visibility_batch().queue_url(queue);
        for (i, (r, secs)) in part.iter().enumerate() {
            req = req.entries(
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*r)
                    .visibility_timeout(*secs)
                    .build()
                    .expect("id and receipt handle are set"),
            );
        }
        async move {
            let out = req.send().await.map_err(|e| chain(&e))?;
            Ok(Answer::new(
                out.successful().iter().map(|s| s.id()),
                out.failed(),
            ))
        }
    })
    .await
}

/// Sends messages with these bodies.
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    bodies: &[String],
) -> Vec<Result<(), String>> {
    in_tens(bodies, |part| {
        let mut req = sqs.send_message_batch().queue_url(queue);
        for (i, b) in part.iter().enumerate() {
            req = req.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(b)
                    .build()
                    .expect("id and body are set"),
            );
        }
        async move {
            let out = req.send().await.map_err(|e| chain(&e))?;
            Ok(Answer::new(
                out.successful().iter().map(|s| s.id()),
                out.failed(),
            ))
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn items_are_sent_in_tens_and_answers_map_back_to_their_items() {
        let items: Vec<u32> = (0..23).collect();
        let mut calls = Vec::new();
        let results = in_tens(&items, |part| {
            calls.push(part.to_vec());
            let n = part.len();
            async move {
                // Entry 3 of each call fails; the others succeed.
                Ok(Answer {
                    ok: (0..n).filter(|i| *i != 3).map(|i| i.to_string()).collect(),
                    failed: vec![("3".into(), "ReceiptHandleIsInvalid".into())],
                })
            }
        })
        .await;
        assert_eq!(
            calls.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10, 10, 3]
        );
        assert_eq!(results.len(), 23);
        let failed: Vec<usize> = (0..23).filter(|i| results[*i].is_err()).collect();
        assert_eq!(failed, vec![3, 13]);
        assert_eq!(results[3].clone().unwrap_err(), "ReceiptHandleIsInvalid");
        // 23 % 10 = 3 entries in the last call: entry 3 does not exist, no answer is missing.
        assert!(results[22].is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_keeps_failing_fails_its_items_after_retries() {
        let mut attempts = 0;
        let results = in_tens(&[1, 2], |_| {
            attempts += 1;
            async { Err::<Answer, _>("connection refused".to_string()) }
        })
        .await;
        assert_eq!(attempts, ATTEMPTS);
        assert_eq!(results, vec![Err("connection refused".to_string()); 2]);
    }
}
